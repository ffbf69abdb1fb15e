"""Parsing untrusted XML: defusedxml with every entity and external reference forbidden, size first.

PSKC never needs a DTD or an entity. An entity declaration is how "billion laughs" (exponential
expansion) and external entities (reading local files or URLs) work, so any entity declaration or
external reference is refused with an error naming the attack, before anything is expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from .errors import SeedFileError
from .policy import check_size

_ATTACK_HINT = (
    "Do not import this file. Real seed files carry no entity declarations; ask the vendor for a fresh "
    "copy through a trusted channel and report the file to security."
)


def parse_xml(data: bytes, max_bytes: int, fmt: str) -> ET.Element:
    check_size(data, max_bytes, fmt)
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except EntitiesForbidden as exc:
        if exc.sysid or exc.pubid:
            raise SeedFileError(
                f"The {fmt} file declares an external entity ({exc.name!r} -> {exc.sysid or exc.pubid}), "
                "which would make a parser read another file or URL (an XXE attack); it was not read.",
                _ATTACK_HINT,
            ) from None
        raise SeedFileError(
            f"The {fmt} file declares an XML entity ({exc.name!r}); entities can expand exponentially "
            "(the 'billion laughs' attack), so the file was not read.",
            _ATTACK_HINT,
        ) from None
    except ExternalReferenceForbidden as exc:
        raise SeedFileError(
            f"The {fmt} file refers to an external document ({exc.sysid or exc.pubid}); it was not read.",
            _ATTACK_HINT,
        ) from None
    except DTDForbidden:  # pragma: no cover - forbid_dtd is off; kept for defusedxml behaviour changes
        raise SeedFileError(f"The {fmt} file has a DTD; it was not read.", _ATTACK_HINT) from None
    except ET.ParseError as exc:
        line, col = exc.position
        raise SeedFileError(
            f"The {fmt} file is not well-formed XML (line {line}, column {col}).",
            "It may be truncated or not a PSKC file at all: check the file, or ask the vendor to resend it.",
        ) from None
