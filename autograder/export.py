"""Gradescope's "Export Submissions" archive: which folder is whose.

The export is a zip (or the folder it unpacks to) holding one
`submission_<id>/` folder per submission and `submission_metadata.yml`,
which maps each folder to its submitters. Gradescope writes that file from
Ruby, so its keys start with a colon (":submitters:", ":name:"); keys
without the colon are read as well, so a hand-written file works too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath


METADATA = "submission_metadata.yml"


class ExportError(ValueError):
    """The export cannot be read; the message says why, for the instructor."""


@dataclass(frozen=True)
class Submitter:
    name: str = ""
    sid: str = ""
    email: str = ""


def metadata_in(folder: Path) -> Path | None:
    """The metadata file of an export folder: at its top, or in its only subfolder."""
    if not folder.is_dir():
        return None
    if (folder / METADATA).is_file():
        return folder / METADATA
    children = [c for c in folder.iterdir() if not c.name.startswith((".", "__MACOSX"))]
    if len(children) == 1 and (children[0] / METADATA).is_file():
        return children[0] / METADATA
    return None


def is_export_zip(path: Path) -> bool:
    """A zip with the metadata file at its top, or one folder down."""
    import zipfile  # here, as below: a folder needs none of it, and it takes 3 ms to import

    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(
                PurePosixPath(name).name == METADATA and len(PurePosixPath(name).parts) <= 2
                for name in archive.namelist()
            )
    except (zipfile.BadZipFile, OSError):
        return False


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack an export zip under `dest`; return the folder that holds the metadata.

    The export comes from Gradescope, not from a student: zipfile's own
    extraction (which drops `..`, absolute paths and drive letters, and
    writes no links) is enough; each student's upload inside it is still
    taken apart by intake, with its limits, when it is graded.
    """
    import zipfile

    target = dest / archive.stem
    try:
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(target)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
        raise ExportError(f"{archive} could not be unpacked: {error}") from None
    found = metadata_in(target)
    if found is None:
        raise ExportError(f"{archive} holds no {METADATA} at its top or one folder down")
    return found.parent


def _get(mapping: object, key: str) -> object:
    if not isinstance(mapping, dict):
        return None
    return mapping.get(f":{key}", mapping.get(key))


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def submitters(metadata: Path) -> dict[str, tuple[Submitter, ...]]:
    """Folder name -> its submitters, in the order the metadata lists them."""
    import yaml  # here, not at the top: PyYAML takes 15 ms to import, and one submission needs none of it

    class Loader(yaml.SafeLoader):
        """safe_load, except that a Ruby type tag (say on a score) is read as the plain value."""

    def untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    try:
        data = yaml.load(metadata.read_text(encoding="utf-8"), Loader=Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ExportError(f"{metadata} cannot be read: {error}") from None
    if not isinstance(data, dict):
        raise ExportError(f"{metadata} should map each submission folder to its submitters")
    found = {}
    for folder, entry in data.items():
        people = _get(entry, "submitters")
        people = people if isinstance(people, list) else []
        found[str(folder)] = tuple(
            Submitter(_text(_get(p, "name")), _text(_get(p, "sid")), _text(_get(p, "email"))) for p in people
        )
    return found
