"""The archive index and search: recall against a plain scan, graded access, reindexing, the CLI."""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
from operator import add
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from digitize.journal import Journal, read_journal
from digitize.search.access import LEVELS, AccessError, clearance_rank, required_clearance
from digitize.search.build import update_archive
from digitize.search.index import ArchiveIndex, ArchiveIndexError, DocumentEntry, PageEntry, catalogue_text, prepare
from digitize.search.query import MAX_COMBINED, Filters, SearchRequest, parse_years, search
from digitize.search.text import BOUNDARY, TERMS_VERSION, fold, fold_with_origins, page_terms, query_terms
from digitize.settings import Settings

SEE_ALL = LEVELS[-1]


# ---------------------------------------------------------------------------------- folding and terms
def test_fold_ignores_width_case_spacing_and_punctuation():
    assert fold("王 颖，\n３３０１２５ＡＢ") == "王颖330125ab"
    assert fold("17,969.74\t2,875.16\n养老\t保险 2018-02-16") == f"1796974{BOUNDARY}287516养老保险20180216"
    assert fold("330125\n\t 19660322") == f"330125{BOUNDARY}19660322"  # cells and lines keep numbers apart
    for text in ("a\tb", "1\t\t王\n2", "\t9\n", "x,\n\t,y 3"):
        assert fold_with_origins(text)[0] == fold(text)
    assert fold("姓名:陆宇春\t公民身份号码: 33012519660322720X") == "姓名陆宇春公民身份号码33012519660322720x"
    folded, origins = fold_with_origins("a，Ｂ 王")
    assert folded == "ab王" and origins == [0, 2, 4]


def reference_terms(folded: str) -> set[str]:
    terms = set(folded) | set(map(add, folded, folded[1:]))
    for run in re.findall(r"[0-9a-z]{4,}", folded):
        terms.update(run[i : i + 4] for i in range(len(run) - 3))
    return {term for term in terms if BOUNDARY not in term}


def test_page_terms_equal_the_plain_definition():
    rng = random.Random(7)
    alphabet = "王李陆宇春颖保险社会0123456789xab𠀀\t\n"
    for _ in range(300):
        text = fold("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))))
        assert set(page_terms(text).split()) == reference_terms(text)
    assert page_terms("") == ""


def test_every_query_term_is_a_term_of_every_matching_page():
    rng = random.Random(11)
    alphabet = "王李陆宇春颖0123456789x\t"
    for _ in range(300):
        page = fold("".join(rng.choice(alphabet) for _ in range(rng.randint(5, 50))))
        start = rng.randrange(len(page))
        query = page[start : start + rng.randint(1, 12)]
        terms, exact = query_terms(query)
        assert terms and set(terms) <= set(page_terms(page).split())
        assert exact == (len(query) <= 2 and BOUNDARY not in query or re.fullmatch("[0-9a-z]{4}", query) is not None)


# ---------------------------------------------------------------------------------- the sample archive
@pytest.fixture(scope="module")
def archive(sample_run, tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("archive")
    report = update_archive(archive, [sample_run["out"]], Settings())
    assert report.ok and len(report.added) == 4
    return archive


def plain_scan(*outs: Path) -> dict[tuple[str, int], str]:
    """Folded text of every page and catalogue record, read from the OUT folders, not the index."""
    texts: dict[tuple[str, int], str] = {}
    for out in outs:
        texts.update(_plain_scan(out))
    return texts


def _plain_scan(out: Path) -> dict[tuple[str, int], str]:
    texts: dict[tuple[str, int], str] = {}
    journal = read_journal(out)
    for doc in journal.documents:
        catalogue = dict(doc.catalog)
        catalogue.setdefault("年度", catalogue["日期"][:4])
        catalogue.setdefault("全宗号", doc.archival_code.split("-")[0])
        texts[(doc.archival_code, 0)] = fold(catalogue_text(catalogue))
        for page in journal.pages_of(doc.doc_key):
            text_file = page.outputs.get("text")
            texts[(doc.archival_code, page.page_no)] = (
                fold((out / text_file["path"]).read_text("utf-8")) if text_file else ""
            )
    return texts


def hits_of(index: ArchiveIndex, query: str, clearance: str = SEE_ALL) -> set[tuple[str, int]]:
    result = search(index, SearchRequest(query, clearance, limit=1000, count_limit=100_000))
    assert result.total_exact and result.complete and result.total == len(result.hits)
    return {(hit.archival_code, hit.page_no) for hit in result.hits}


def test_recall_and_precision_against_a_plain_scan(archive, sample_run):
    """Every 1- and 2-character string of the sample text, 300 random 3- and 4-character ones,
    and every fragment of every 18-digit ID number: the index finds exactly the pages a scan finds."""
    texts = plain_scan(sample_run["out"])
    everything = "".join(texts.values())
    rng = random.Random(23)
    queries = set(everything) | set(map(add, everything, everything[1:]))
    for length in (3, 4):
        windows = sorted({everything[i : i + length] for i in range(len(everything) - length + 1)})
        queries |= set(rng.sample(windows, 150))
    ids = sorted(set(re.findall(r"\d{17}[\dx]", everything)))
    assert len(ids) >= 3
    for number in ids:
        queries |= {number[i:j] for i in range(18) for j in range(i + 4, 19)}
    queries = {q for q in queries if BOUNDARY not in q}  # what can be typed: no tab or line break inside
    assert len(queries) > 2500
    with ArchiveIndex(archive) as index:
        for query in sorted(queries):
            expected = {key for key, text in texts.items() if query in text}
            assert hits_of(index, query) == expected, query


def test_names_and_id_numbers_of_the_samples(archive):
    with ArchiveIndex(archive) as index:
        assert ("J022-SB·2019-Y-DY-0004", 1) in hits_of(index, "潘梅")
        assert {code for code, _ in hits_of(index, "陆")} >= {"J022-SB·2019-D10-ZJ-0003"}
        result = search(index, SearchRequest("196603227201", "内部"))
        assert result.hits and "【196603227201】" in result.hits[0].marked()


def test_a_public_reader_sees_no_internal_record(archive, sample_run):
    """The samples are all 内部 and not open: a 公开 reader finds nothing, not even a count."""
    texts = plain_scan(sample_run["out"])
    with ArchiveIndex(archive) as index:
        for query in ("潘梅", "陆宇春", "社会保险", "3301", "J022", "的"):
            assert hits_of(index, query, "内部")
            result = search(index, SearchRequest(query, "公开"))
            assert result.total == 0 and result.hits == []
        assert search(index, SearchRequest("", "公开", Filters(years=("2019",)))).total == 0
        assert len(hits_of(index, "社会保险", "内部")) == sum("社会保险" in t for t in texts.values())


# ---------------------------------------------------------------------------------- graded access
def entry(code: str, security: str, open_status: str, text: str = "王颖的档案") -> DocumentEntry:
    catalogue = {
        "档号": code,
        "题名": f"{security}{open_status}",
        "密级": security,
        "开放标识": open_status,
        "年度": "2020",
    }
    return DocumentEntry(code, catalogue, (PageEntry(1, text),), fingerprint=code)


GRADES = [
    ("A-公开-开放", "公开", "开放", 0),
    ("A-空-开放", "", "开放", 0),
    ("A-公开-控制", "公开", "控制", 1),
    ("A-公开-空", "公开", "", 1),
    ("A-内部-开放", "内部", "开放", 1),
    ("A-限制-控制", "限制", "控制", 1),
    ("A-秘密-控制", "秘密", "控制", 2),
    ("A-机密★10年", "机密★10年", "控制", 3),
    ("A-绝密", "绝密", "控制", 4),
    ("A-未知密级", "保密", "开放", 5),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("graded")
    with ArchiveIndex(archive, create=True) as index, index.transaction():
        for code, security, open_status, _ in GRADES:
            index.put(prepare(entry(code, security, open_status)), None)
    return archive


@pytest.mark.parametrize("clearance", LEVELS)
def test_nothing_above_the_clearance_is_shown_or_counted(graded, clearance):
    rank = clearance_rank(clearance)
    allowed = {code for code, _, _, needed in GRADES if needed <= rank}
    with ArchiveIndex(graded) as index:
        for query in ("王颖", "王", "档案", "王颖的档案"):
            result = search(index, SearchRequest(query, clearance, limit=100))
            assert {(hit.archival_code, hit.page_no) for hit in result.hits} == {(code, 1) for code in allowed}
            assert result.total == len(allowed)
        listed = search(index, SearchRequest("", clearance, Filters(years=("2020",)), limit=100))
        assert {hit.archival_code for hit in listed.hits} == allowed and listed.total == len(allowed)


def test_checking_stops_after_the_requested_hits_and_the_rest_is_estimated(tmp_path):
    """40 open pages are candidates for 养老保险, every other one a hit; 40 内部 ones match too.
    A page of 5 hits checks only what it needs and estimates the rest from open candidates only;
    `exact_total` checks them all."""
    with ArchiveIndex(tmp_path, create=True) as index, index.transaction():
        for number in range(80):
            text = "养老保险待遇" if number % 2 == 0 else "养老保证，保险待遇"  # both have every pair
            security, open_status = ("公开", "开放") if number < 40 else ("内部", "控制")
            index.put(prepare(entry(f"B-{number:03d}", security, open_status, text)), None)
    with ArchiveIndex(tmp_path) as index:
        first = search(index, SearchRequest("养老保险", "公开", limit=5))
        assert [hit.archival_code for hit in first.hits] == [f"B-{n:03d}" for n in range(0, 10, 2)]
        assert not first.total_exact and 5 <= first.total < 20 and first.estimate is not None
        assert 5 < first.estimate <= 40 and first.count_label == f"约 {first.estimate}"
        exact = search(index, SearchRequest("养老保险", "公开", limit=5, exact_total=True))
        assert exact.total_exact and exact.total == 20 and exact.estimate is None and exact.count_label == "20"
        assert [hit.archival_code for hit in exact.hits] == [hit.archival_code for hit in first.hits]
        later = search(index, SearchRequest("养老保险", "公开", offset=15, limit=5))
        assert [hit.archival_code for hit in later.hits] == [f"B-{n:03d}" for n in range(30, 40, 2)]
        staff = search(index, SearchRequest("养老保险", "内部", limit=100))
        assert staff.total_exact and staff.total == 40
        capped = search(index, SearchRequest("养老保险", "内部", limit=1, count_limit=10))
        assert capped.estimate_capped and capped.count_label.endswith("+")


def test_required_clearance_rules():
    for _, security, open_status, needed in GRADES:
        assert required_clearance({"密级": security, "开放标识": open_status}) == needed
    with pytest.raises(AccessError):
        clearance_rank("保密")


def test_filters(graded):
    with ArchiveIndex(graded) as index:
        only = search(index, SearchRequest("王颖", SEE_ALL, Filters(security=("秘密",))))
        assert {h.archival_code for h in only.hits} == {"A-秘密-控制"}
        assert search(index, SearchRequest("王颖", SEE_ALL, Filters(years=("2019",)))).total == 0
        assert search(index, SearchRequest("王颖", "内部", Filters(security=("秘密",)))).total == 0
    assert parse_years("2015-2017, 2019") == ("2015", "2016", "2017", "2019")


def test_combined_filters_find_what_a_plain_filter_finds(tmp_path):
    """Year, retention and fonds filters (one combined term per combination, or one list per
    field beyond MAX_COMBINED combinations) give exactly the visible pages a plain check of
    the catalogue gives, at every clearance."""
    rng = random.Random(7)
    years = [str(y) for y in range(2000, 2024)]
    retentions, fonds = ("永久", "定期30年", "定期10年", ""), ("J022", "J031", "")
    grades = [(security, open_status) for _, security, open_status, _ in GRADES]
    catalogues = {}
    with ArchiveIndex(tmp_path, create=True) as index, index.transaction():
        for number in range(300):
            security, open_status = rng.choice(grades)
            code = f"C-{number:03d}"
            catalogue = {"档号": code, "密级": security, "开放标识": open_status}
            for name, values in (("年度", years), ("保管期限", retentions), ("全宗号", fonds)):
                if value := rng.choice(values):
                    catalogue[name] = value
            catalogues[code] = catalogue
            index.put(prepare(DocumentEntry(code, catalogue, (PageEntry(1, "养老保险待遇"),), fingerprint=code)), None)
    every_year = tuple(years)  # with 3 retentions: 72 combinations, more than MAX_COMBINED
    assert len(every_year) * 3 > MAX_COMBINED
    asks = [
        Filters(years=("2019",), retention=("永久",), fonds=("J022",)),
        Filters(years=("2019", "2020", "2021"), fonds=("J031",)),
        Filters(retention=("定期10年",)),
        Filters(years=("2005",)),
        Filters(retention=("永久", "定期30年"), fonds=("J022", "J031")),
        Filters(years=every_year, retention=("永久", "定期30年", "定期10年")),
        Filters(years=("2019",), retention=("永久",), security=("公开",)),
    ]
    with ArchiveIndex(tmp_path) as index:
        for clearance in LEVELS:
            for filters in asks:
                expected = {
                    code
                    for code, c in catalogues.items()
                    if required_clearance(c) <= clearance_rank(clearance)
                    and (not filters.years or c.get("年度") in filters.years)
                    and (not filters.retention or c.get("保管期限") in filters.retention)
                    and (not filters.fonds or c.get("全宗号") in filters.fonds)
                    and (not filters.security or c.get("密级") in filters.security)
                }
                for query in ("养老保险", "保险", ""):
                    found = search(index, SearchRequest(query, clearance, filters, limit=400, exact_total=True))
                    assert {hit.archival_code for hit in found.hits} == expected, (clearance, filters, query)
    assert len(Filters(years=("2019",), retention=("永久",), fonds=("J022",)).groups("内部")) == 1


def test_an_index_built_with_other_terms_is_refused_until_rebuilt(sample_run, tmp_path):
    archive = tmp_path / "archive"
    update_archive(archive, [sample_run["out"]], Settings())
    db = sqlite3.connect(archive / "index.sqlite")
    db.execute("UPDATE meta SET value='terms-2/unicode-15.0.0' WHERE key='terms_version'")
    db.commit()
    db.close()
    with pytest.raises(ArchiveIndexError, match="--rebuild"):
        ArchiveIndex(archive)
    refused = CliRunner().invoke(main, ["search", str(archive), "潘梅", "--clearance", "内部"])
    assert refused.exit_code == 2 and "terms-2" in refused.output
    rebuilt = CliRunner().invoke(main, ["index", str(sample_run["out"]), "--into", str(archive), "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    with ArchiveIndex(archive) as index:
        assert index.db.execute("SELECT value FROM meta WHERE key='terms_version'").fetchone()[0] == TERMS_VERSION
        assert hits_of(index, "潘梅")


# ---------------------------------------------------------------------------------- reindexing
def integrity(archive: Path) -> None:
    db = sqlite3.connect(archive / "index.sqlite")
    db.execute("INSERT INTO fulltext(fulltext, rank) VALUES ('integrity-check', 0)")
    pages = db.execute("SELECT count(*) FROM pages").fetchone()[0]
    documents = db.execute("SELECT count(*), sum(pages) FROM documents").fetchone()
    assert pages == documents[0] + documents[1]
    db.close()


def test_a_reprocessed_document_replaces_its_entry(sample_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_run["out"], out)
    archive = tmp_path / "archive"
    update_archive(archive, [out], Settings())
    code = "J022-SB·2019-Y-DY-0004"
    again = update_archive(archive, [out], Settings())
    assert again.unchanged == 4 and not again.added and not again.replaced
    with Journal(out / "journal.sqlite") as journal:  # what reprocessing page 1 amounts to
        page = journal.page(code, 1)
        assert page is not None
        text_path = out / page.outputs["text"]["path"]
        text_path.write_text("重新扫描后的文字 赵钱孙\n", encoding="utf-8")
        outputs = {**page.outputs, "text": {**page.outputs["text"], "sha256": "changed"}}
        journal.upsert_page(code, 1, state=page.state, outputs=outputs)
    report = update_archive(archive, [out], Settings())
    assert report.replaced == [code] and report.unchanged == 3
    integrity(archive)
    with ArchiveIndex(archive) as index:
        assert hits_of(index, "赵钱孙") == {(code, 1)}
        assert (code, 1) not in hits_of(index, "潘梅")
    with Journal(out / "journal.sqlite") as journal:
        journal.upsert_document(code, archival_code=code, state="failed")
    report = update_archive(archive, [out], Settings())
    assert report.removed == [code]
    integrity(archive)
    with ArchiveIndex(archive) as index:
        assert hits_of(index, "赵钱孙") == set()


def test_the_same_archival_code_from_another_folder_is_indexed_once(sample_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(sample_run["out"], copy)
    archive = tmp_path / "archive"
    update_archive(archive, [sample_run["out"]], Settings())
    report = update_archive(archive, [copy], Settings())
    assert len(report.moved) == 4 and len(report.replaced) == 4
    integrity(archive)
    with ArchiveIndex(archive) as index:
        assert index.stats().documents == 4
        assert len([h for h in hits_of(index, "潘梅") if h[1] == 0]) == 1


# ---------------------------------------------------------------------------------- command line
def test_cli_index_and_search(sample_run, tmp_path):
    runner = CliRunner()
    archive = tmp_path / "archive"
    lots = [str(sample_run["out"])]
    first = runner.invoke(main, ["index", *lots, "--into", str(archive), "--json"])
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.output)["added"]) == 4
    found = runner.invoke(main, ["search", str(archive), "潘梅", "--clearance", "内部", "--json"])
    data = json.loads(found.output)
    assert found.exit_code == 0 and data["total"] == 2 and data["hits"][1]["page"] == 1
    text = runner.invoke(main, ["search", str(archive), "潘梅", "--clearance", "内部"]).output
    assert "【潘梅】" in text and "J022-SB·2019-Y-DY-0004" in text
    public = runner.invoke(main, ["search", str(archive), "潘梅"])
    assert public.exit_code == 0 and "潘梅" not in public.output.split("\n", 1)[1]
    assert runner.invoke(main, ["search", str(archive), "潘梅", "--clearance", "保密"]).exit_code == 2
    assert runner.invoke(main, ["search", str(archive), "--clearance", "内部"]).exit_code == 2
    assert runner.invoke(main, ["search", str(archive), "x", "--year", "20x9"]).exit_code == 2
    assert runner.invoke(main, ["index", str(tmp_path), "--into", str(archive)]).exit_code == 2


def test_export_updates_the_archive_named_in_the_profile(sample_run, tmp_path):
    """`export` (like `process`) indexes the OUT folder when the profile names an archive."""
    out = tmp_path / "out"
    shutil.copytree(sample_run["out"], out)
    profile = tmp_path / "profile.toml"
    profile.write_text(f'[search]\narchive = "{tmp_path / "archive"}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["export", str(out), "-f", "dc", "--profile", str(profile), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["archive_index"]["added"]) == 4
    with ArchiveIndex(tmp_path / "archive") as index:
        assert hits_of(index, "潘梅")
