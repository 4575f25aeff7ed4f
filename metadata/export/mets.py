"""METS 1.12 document package description (catalog/mets/<档号>.xml), with MODS 3.8 and PREMIS 3.

- dmdSec: MODS (title, 责任者 as creator, dateIssued, 档号 as local identifier, language,
  extent and digitalOrigin "reformatted digital", genre 文种, topics 主题词, accessCondition).
- amdSec: one techMD per file (premis:object with SHA-256 fixity, size, format and PRONOM key;
  derived files — PDF/A, OFD, ALTO — with a "derivation / has source" relationship to their
  masters and the event that made them); one digiprovMD per event (premis:event linking each
  object with its role: "source" for what it examined or acted on, "outcome" for what it made)
  and per agent (premis:agent).
- fileSec: USE="preservation" (master images), "access" (the PDF/A and/or the OFD), "fulltext"
  (ALTO), each file with MIMETYPE, SIZE, CHECKSUM/CHECKSUMTYPE="SHA-256" and an FLocat.
- structMap TYPE="physical": the document div points at its layout files; one page div per
  scanned page points at its master, and, in one fptr/par (shown together), at its page of each
  layout file (area BEGIN=END=page number) and at its ALTO, which describes the pixels of that
  derivative page, not of the master. METS 1.12 has no BETYPE for PDF or OFD pages, so BETYPE
  is left out.

FLocat hrefs are relative to the METS file itself. Files under OUT are found as "../../documents/…".
Masters live in the batch folder, outside OUT: given `master_paths` (where a hand-off package put
them, relative to the same root as OUT's files) they get a relative URL too; otherwise they carry
their batch-relative path with LOCTYPE="OTHER" OTHERLOCTYPE="BATCH".
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from lxml import etree

from digitize.layout import METS_DIR  # where run_exports writes METS files, relative to OUT
from metadata.export.validate import assert_valid
from metadata.export.xmlbuild import XLINK, XSI, serialize, sub
from metadata.records import (
    PREMIS_EVENT_TYPES,
    Agent,
    ArchiveRecord,
    BatchInfo,
    Event,
    FileInfo,
    identifier_type,
)

METS = "http://www.loc.gov/METS/"
MODS = "http://www.loc.gov/mods/v3"
PREMIS = "http://www.loc.gov/premis/v3"
NSMAP = {"mets": METS, "mods": MODS, "premis": PREMIS, "xlink": XLINK, "xsi": XSI}
SCHEMA_LOCATION = (
    f"{METS} http://www.loc.gov/standards/mets/mets.xsd "
    f"{MODS} http://www.loc.gov/standards/mods/v3/mods-3-8.xsd "
    f"{PREMIS} http://www.loc.gov/standards/premis/v3/premis-v3-0.xsd"
)
_EVENT_TYPE_AUTHORITY = "http://id.loc.gov/vocabulary/preservation/eventType"
_FILE_GROUPS = (("preservation", ("master",)), ("access", ("pdf", "ofd")), ("fulltext", ("alto",)))
_ROLE_AUTHORITY = "http://id.loc.gov/vocabulary/preservation/eventRelatedObjectRole"
_RELATIONSHIP_AUTHORITY = "http://id.loc.gov/vocabulary/preservation/relationshipType"
_RELATIONSHIP_SUBTYPE_AUTHORITY = "http://id.loc.gov/vocabulary/preservation/relationshipSubType"


def _m(tag: str) -> str:
    return f"{{{METS}}}{tag}"


def _mods(tag: str) -> str:
    return f"{{{MODS}}}{tag}"


def _p(tag: str) -> str:
    return f"{{{PREMIS}}}{tag}"


def build_mets(
    record: ArchiveRecord, batch: BatchInfo, mets_dir: str = METS_DIR, master_paths: Mapping[str, str] | None = None
) -> etree._ElementTree:
    """The METS tree of one document; `mets_dir` is the METS file's folder relative to OUT (or
    to the package root that mirrors OUT); `master_paths` maps a master's batch-relative path to
    where it sits relative to that same root."""
    root = etree.Element(_m("mets"), nsmap=NSMAP)
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    root.set("OBJID", record.archival_code)
    root.set("LABEL", record.title)
    root.set("TYPE", "document")

    header = sub(root, _m("metsHdr"), attrib={"CREATEDATE": batch.created, "RECORDSTATUS": "complete"})
    if batch.archives_name:
        agent = sub(header, _m("agent"), attrib={"ROLE": "CUSTODIAN", "TYPE": "ORGANIZATION"})
        sub(agent, _m("name"), batch.archives_name)
    agent = sub(header, _m("agent"), attrib={"ROLE": "CREATOR", "TYPE": "OTHER", "OTHERTYPE": "SOFTWARE"})
    sub(agent, _m("name"), batch.software)
    sub(header, _m("altRecordID"), record.archival_code, {"TYPE": "档号"})

    wrap = sub(
        sub(root, _m("dmdSec"), attrib={"ID": "dmd-1"}),
        _m("mdWrap"),
        attrib={
            "MDTYPE": "MODS",
            "MDTYPEVERSION": "3.8",
            "MIMETYPE": "text/xml",
        },
    )
    _mods_record(sub(wrap, _m("xmlData")), record, batch)

    file_ids = {f.path: _file_id(f) for f in record.files}
    event_ids = {e.identifier: f"event-{n}" for n, e in enumerate(record.events, start=1)}
    if record.files or record.events or record.agents:
        amd = sub(root, _m("amdSec"), attrib={"ID": "amd-1"})
        for f in record.files:
            _premis_object(_md(amd, "techMD", f"tech-{file_ids[f.path]}", "PREMIS:OBJECT"), f, record)
        for event in record.events:
            _premis_event(_md(amd, "digiprovMD", event_ids[event.identifier], "PREMIS:EVENT"), event, record)
        for n, agent in enumerate(record.agents, start=1):
            _premis_agent(_md(amd, "digiprovMD", f"agent-{n}", "PREMIS:AGENT"), agent)

    if record.files:
        file_sec = sub(root, _m("fileSec"))
        for use, roles in _FILE_GROUPS:
            files = [f for f in record.files if f.role in roles]
            if not files:
                continue
            group = sub(file_sec, _m("fileGrp"), attrib={"USE": use})
            for f in files:
                events = [event_ids[e.identifier] for e in record.events if f.path in (*e.object_ids, *e.outcome_ids)]
                href = _href(f, mets_dir, master_paths or {})
                _file(group, f, file_ids[f.path], " ".join([f"tech-{file_ids[f.path]}", *events]), href)

    struct = sub(root, _m("structMap"), attrib={"TYPE": "physical"})
    doc = sub(struct, _m("div"), attrib={"TYPE": "document", "LABEL": record.title, "DMDID": "dmd-1"})
    for layout in record.layout_files:
        sub(doc, _m("fptr"), attrib={"FILEID": file_ids[layout.path]})
    for page in record.pages:
        label = f"第{page.page_no}页" + ("（空白页）" if page.is_blank else "")
        div = sub(
            doc,
            _m("div"),
            attrib={
                "TYPE": "page",
                "ORDER": str(page.page_no),
                "ORDERLABEL": str(page.page_no),
                "LABEL": label,
            },
        )
        sub(div, _m("fptr"), attrib={"FILEID": file_ids[page.master.path]})
        derived: list[tuple[FileInfo, int | None]] = [
            (f, page.pdf_page) for f in record.layout_files if page.pdf_page is not None
        ]
        derived += [(page.alto, None)] if page.alto else []
        if derived:
            together = sub(sub(div, _m("fptr")), _m("par"))
            for f, number in derived:
                extent = {"BEGIN": str(number), "END": str(number)} if number is not None else {}
                sub(together, _m("area"), attrib={"FILEID": file_ids[f.path], **extent})
    return etree.ElementTree(root)


def mets_bytes(
    record: ArchiveRecord, batch: BatchInfo, mets_dir: str = METS_DIR, master_paths: Mapping[str, str] | None = None
) -> bytes:
    """The METS file of one document, validated with its MODS and PREMIS content; UTF-8."""
    tree = build_mets(record, batch, mets_dir, master_paths)
    assert_valid("mets", tree, f"mets/{record.archival_code}.xml")
    return serialize(tree)


def _file_id(f: FileInfo) -> str:
    return f"{f.role}-{f.page_no:04d}" if f.page_no is not None else f.role


def _href(f: FileInfo, mets_dir: str, master_paths: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """(LOCTYPE attributes, href) of a file, relative to the METS file where it can be."""
    if f.role == "master" and f.path not in master_paths:
        loc, path = {"LOCTYPE": "OTHER", "OTHERLOCTYPE": "BATCH"}, f.path
    else:
        loc, path = {"LOCTYPE": "URL"}, posixpath.relpath(master_paths.get(f.path, f.path), mets_dir)
    return loc, path.replace("%", "%25").replace(" ", "%20").replace("#", "%23").replace("?", "%3F")


def _file(group: etree._Element, f: FileInfo, file_id: str, admid: str, href: tuple[dict[str, str], str]) -> None:
    attrib = {
        "ID": file_id,
        "MIMETYPE": f.mime_type,
        "SIZE": str(f.size),
        "CHECKSUM": f.sha256,
        "CHECKSUMTYPE": "SHA-256",
        "ADMID": admid,
    }
    if f.page_no is not None:
        attrib["GROUPID"] = f"page-{f.page_no:04d}"
    if f.created:
        attrib["CREATED"] = f.created
    el = sub(group, _m("file"), attrib=attrib)
    loc, location = href
    sub(el, _m("FLocat"), attrib={**loc, f"{{{XLINK}}}type": "simple", f"{{{XLINK}}}href": location})


def _md(amd: etree._Element, section: str, md_id: str, mdtype: str) -> etree._Element:
    """Add a techMD/digiprovMD wrapping PREMIS; return its xmlData element."""
    sec = sub(amd, _m(section), attrib={"ID": md_id})
    wrap = sub(sec, _m("mdWrap"), attrib={"MDTYPE": mdtype, "MDTYPEVERSION": "3.0", "MIMETYPE": "text/xml"})
    return sub(wrap, _m("xmlData"))


def _mods_record(parent: etree._Element, record: ArchiveRecord, batch: BatchInfo) -> None:
    mods = sub(parent, _mods("mods"), attrib={"version": "3.8"})
    sub(sub(mods, _mods("titleInfo")), _mods("title"), record.title)
    if record.get("责任者"):
        name = sub(mods, _mods("name"), attrib={"type": "corporate"})
        sub(name, _mods("namePart"), record.get("责任者"))
        role = sub(name, _mods("role"))
        sub(role, _mods("roleTerm"), "creator", {"type": "text", "authority": "marcrelator"})
        sub(role, _mods("roleTerm"), "cre", {"type": "code", "authority": "marcrelator"})
    sub(mods, _mods("typeOfResource"), "text")
    if record.get("文种"):
        sub(mods, _mods("genre"), record.get("文种"), {"displayLabel": "文种"})
    if record.date_iso:
        origin = sub(mods, _mods("originInfo"))
        sub(origin, _mods("dateIssued"), record.date_iso, {"encoding": "w3cdtf", "keyDate": "yes"})
    for code in record.language:
        language = sub(mods, _mods("language"))
        sub(language, _mods("languageTerm"), code, {"type": "code", "authority": "iso639-2b"})
    physical = sub(mods, _mods("physicalDescription"))
    for layout in record.layout_files:
        sub(physical, _mods("internetMediaType"), layout.mime_type)
    sub(physical, _mods("extent"), f"{record.page_count}页", {"unit": "pages"})
    if record.pages:
        sub(physical, _mods("digitalOrigin"), "reformatted digital")
    for term in record.terms("主题词"):
        sub(sub(mods, _mods("subject")), _mods("topic"), term)
    sub(mods, _mods("identifier"), record.archival_code, {"type": "local", "displayLabel": "档号"})
    if record.get("文号"):
        sub(mods, _mods("identifier"), record.get("文号"), {"type": "local", "displayLabel": "文号"})
    restrictions = [f"{name}：{record.get(name)}" for name in ("密级", "开放标识") if record.get(name)]
    if restrictions:
        sub(mods, _mods("accessCondition"), "；".join(restrictions), {"type": "restriction on access"})
    info = sub(mods, _mods("recordInfo"))
    if batch.archives_name:
        sub(info, _mods("recordContentSource"), batch.archives_name)
    sub(info, _mods("recordCreationDate"), batch.created, {"encoding": "iso8601"})
    sub(info, _mods("recordIdentifier"), record.archival_code)
    language = sub(info, _mods("languageOfCataloging"))
    sub(language, _mods("languageTerm"), batch.language, {"type": "code", "authority": "iso639-2b"})


def _premis_object(parent: etree._Element, f: FileInfo, record: ArchiveRecord) -> None:
    obj = sub(parent, _p("object"), attrib={f"{{{XSI}}}type": "premis:file", "version": "3.0"})
    ident = sub(obj, _p("objectIdentifier"))
    sub(ident, _p("objectIdentifierType"), "local")
    sub(ident, _p("objectIdentifierValue"), f.path)
    chars = sub(obj, _p("objectCharacteristics"))
    sub(chars, _p("compositionLevel"), "0")
    fixity = sub(chars, _p("fixity"))
    sub(
        fixity,
        _p("messageDigestAlgorithm"),
        "SHA-256",
        {
            "authority": "cryptographicHashFunctions",
            "authorityURI": "http://id.loc.gov/vocabulary/preservation/cryptographicHashFunctions",
        },
    )
    sub(fixity, _p("messageDigest"), f.sha256)
    sub(chars, _p("size"), f.size)
    fmt = sub(chars, _p("format"))
    designation = sub(fmt, _p("formatDesignation"))
    sub(designation, _p("formatName"), f.format_name)
    if f.format_version:
        sub(designation, _p("formatVersion"), f.format_version)
    if f.puid:
        registry = sub(fmt, _p("formatRegistry"))
        sub(registry, _p("formatRegistryName"), "PRONOM")
        sub(registry, _p("formatRegistryKey"), f.puid)
        sub(registry, _p("formatRegistryRole"), "specification")
    if f.role in ("pdf", "ofd") and record.creating_application:
        app = sub(chars, _p("creatingApplication"))
        sub(app, _p("creatingApplicationName"), record.creating_application)
        if f.created:
            sub(app, _p("dateCreatedByApplication"), f.created)
    sub(obj, _p("originalName"), f.name)
    makers = [e for e in record.events if f.path in e.outcome_ids and e.object_ids]
    sources = list(dict.fromkeys(path for e in makers for path in e.object_ids))
    if sources:
        relationship = sub(obj, _p("relationship"))
        sub(
            relationship,
            _p("relationshipType"),
            "derivation",
            {"authority": "relationshipType", "authorityURI": _RELATIONSHIP_AUTHORITY},
        )
        sub(
            relationship,
            _p("relationshipSubType"),
            "has source",
            {"authority": "relationshipSubType", "authorityURI": _RELATIONSHIP_SUBTYPE_AUTHORITY},
        )
        for path in sources:
            related = sub(relationship, _p("relatedObjectIdentifier"))
            sub(related, _p("relatedObjectIdentifierType"), "local")
            sub(related, _p("relatedObjectIdentifierValue"), path)
        for event in makers:
            related = sub(relationship, _p("relatedEventIdentifier"))
            sub(related, _p("relatedEventIdentifierType"), identifier_type(event.identifier))
            sub(related, _p("relatedEventIdentifierValue"), event.identifier)


def _premis_event(parent: etree._Element, event: Event, record: ArchiveRecord) -> None:
    el = sub(parent, _p("event"), attrib={"version": "3.0"})
    ident = sub(el, _p("eventIdentifier"))
    sub(ident, _p("eventIdentifierType"), identifier_type(event.identifier))
    sub(ident, _p("eventIdentifierValue"), event.identifier)
    sub(
        el,
        _p("eventType"),
        event.type,
        {
            "authority": "eventType",
            "authorityURI": _EVENT_TYPE_AUTHORITY,
            "valueURI": PREMIS_EVENT_TYPES[event.type],
        },
    )
    sub(el, _p("eventDateTime"), event.datetime)
    if event.detail:
        sub(sub(el, _p("eventDetailInformation")), _p("eventDetail"), event.detail)
    sub(sub(el, _p("eventOutcomeInformation")), _p("eventOutcome"), event.outcome)
    agents = {a.identifier: a for a in record.agents}
    for agent_id in event.agent_ids:
        link = sub(el, _p("linkingAgentIdentifier"))
        sub(link, _p("linkingAgentIdentifierType"), identifier_type(agent_id))
        sub(link, _p("linkingAgentIdentifierValue"), agent_id)
        agent = agents.get(agent_id)
        if agent is not None:
            sub(link, _p("linkingAgentRole"), "executing program" if agent.type == "software" else "implementer")
    roles = [(path, "source") for path in dict.fromkeys(event.object_ids)]
    roles += [(path, "outcome") for path in dict.fromkeys(event.outcome_ids)]
    for object_id, role in roles:
        link = sub(el, _p("linkingObjectIdentifier"))
        sub(link, _p("linkingObjectIdentifierType"), "local")
        sub(link, _p("linkingObjectIdentifierValue"), object_id)
        sub(
            link,
            _p("linkingObjectRole"),
            role,
            {"authority": "eventRelatedObjectRole", "authorityURI": _ROLE_AUTHORITY},
        )


def _premis_agent(parent: etree._Element, agent: Agent) -> None:
    el = sub(parent, _p("agent"), attrib={"version": "3.0"})
    ident = sub(el, _p("agentIdentifier"))
    sub(ident, _p("agentIdentifierType"), identifier_type(agent.identifier))
    sub(ident, _p("agentIdentifierValue"), agent.identifier)
    sub(el, _p("agentName"), agent.name)
    sub(el, _p("agentType"), agent.type)
    if agent.version:
        sub(el, _p("agentVersion"), agent.version)
