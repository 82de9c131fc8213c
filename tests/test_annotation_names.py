"""The name dictionary's invariants (checked here, not when ``dataset_builder.annotation`` is
imported): every target morph is named, and no name means two targets."""

from collections import defaultdict

from animeceleb.pose import TARGET_MORPH_NAMES
from dataset_builder.annotation import (
    NAME_DICTIONARY,
    NAMING_SCHEMES,
    normalize_name,
    target_for_name,
)


def test_the_name_dictionary_names_every_target_morph_in_every_scheme():
    assert set(NAME_DICTIONARY) == set(TARGET_MORPH_NAMES)
    for target, schemes in NAME_DICTIONARY.items():
        assert set(schemes) == set(NAMING_SCHEMES), target
        assert all(schemes.values()), f"{target}: a scheme with no name"


def test_no_name_of_the_dictionary_means_two_targets():
    meanings: dict[str, set[str]] = defaultdict(set)
    for target, schemes in NAME_DICTIONARY.items():
        for names in schemes.values():
            for name in names:
                meanings[normalize_name(name)].add(target)
    ambiguous = {name: sorted(targets) for name, targets in meanings.items() if len(targets) > 1}
    assert not ambiguous, f"names that mean two target morphs: {ambiguous}"
    for target, schemes in NAME_DICTIONARY.items():
        for name in (n for names in schemes.values() for n in names):
            assert target_for_name(name) == target, name
