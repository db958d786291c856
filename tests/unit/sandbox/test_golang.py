"""Reading Go's own outputs: `go vet -json` findings, `go test -json` cases, test names."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.golang import VetFinding, go_cases, go_test_names, packages_of, parse_go_vet

# `go vet -json ./...` (go 1.19) on a module with two packages, as printed on stderr.
VET_JSON = """# example.com/calc
{
\t"example.com/calc": {
\t\t"unusedresult": [
\t\t\t{
\t\t\t\t"posn": "/work/run-1/repo/calc.go:12:12",
\t\t\t\t"message": "result of fmt.Sprintf call not used"
\t\t\t}
\t\t]
\t}
}
# example.com/calc/sub
{
\t"example.com/calc/sub": {
\t\t"printf": [
\t\t\t{
\t\t\t\t"posn": "/work/run-1/repo/sub/sub.go:5:9",
\t\t\t\t"message": "fmt.Sprintf format %d reads arg #2, but call has 1 arg"
\t\t\t}
\t\t]
\t}
}
"""
VET_TYPECHECK = """# example.com/calc
vet: ./calc.go:9:2: undeclared name: Missing
"""


def test_go_vet_json_becomes_typed_findings_relative_to_the_workdir() -> None:
    findings = parse_go_vet(VET_JSON, Path("/work/run-1/repo"))
    assert findings == [
        VetFinding("unusedresult", "calc.go", 12, 12, "result of fmt.Sprintf call not used"),
        VetFinding(
            "printf", "sub/sub.go", 5, 9, "fmt.Sprintf format %d reads arg #2, but call has 1 arg"
        ),
    ]


def test_a_package_that_does_not_type_check_is_a_typecheck_finding() -> None:
    (finding,) = parse_go_vet(VET_TYPECHECK, Path("/w"))
    assert (finding.rule, finding.file, finding.line, finding.message) == (
        "typecheck",
        "calc.go",
        9,
        "undeclared name: Missing",
    )


def test_clean_go_vet_output_has_no_findings() -> None:
    assert parse_go_vet("", Path("/w")) == []


def test_go_test_events_give_each_test_and_whether_it_passed() -> None:
    events = "\n".join(
        [
            '{"Action":"run","Package":"example.com/calc","Test":"TestAdd"}',
            '{"Action":"pass","Package":"example.com/calc","Test":"TestAdd","Elapsed":0}',
            '{"Action":"fail","Package":"example.com/calc","Test":"TestSub","Elapsed":0}',
            '{"Action":"skip","Package":"example.com/calc","Test":"TestSkip","Elapsed":0}',
            '{"Action":"fail","Package":"example.com/calc","Elapsed":0.1}',
            "FAIL\texample.com/calc [build failed]",
        ]
    )
    assert go_cases(events) == {
        "example.com/calc.TestAdd": True,
        "example.com/calc.TestSub": False,
        "example.com/calc.TestSkip": False,
    }


def test_test_functions_are_found_in_a_go_test_file() -> None:
    text = (
        "package calc\n\nfunc TestSubtract(t *testing.T) {}\nfunc helper(t *testing.T) {}\n"
        "func TestMain(m *testing.M) {}\nfunc Test_edge(t *testing.T) {}\n"
    )
    assert go_test_names(text) == ["TestSubtract", "Test_edge"]


def test_new_test_files_name_their_packages() -> None:
    assert packages_of(["subtract_test.go", "sub/a_test.go", "sub/b_test.go"]) == ["./", "./sub"]
