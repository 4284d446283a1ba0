"""Holds the compile-only Pulsar API stubs to the real Pulsar 4.0 signatures.

Every public method and field a stub declares (constructors aside) must appear, with the same
erased types, in ../shared/pulsar-api/signatures.txt, unless the stub's source cites the Pulsar
source file it copies the member from (`// source: <path>` beside the member).
"""

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUBS_JAR = ROOT / "java-shim" / "build" / "pulsar-api-stubs.jar"
STUB_SOURCES = ROOT / "java-shim" / "stubs" / "src"
SIGNATURES = ROOT.parent / "shared" / "pulsar-api" / "signatures.txt"
MODIFIERS = {"public", "protected", "private", "static", "final", "abstract", "default", "synchronized",
             "native", "transient", "volatile"}


def erase(text):
    while "<" in text:
        text = re.sub(r"<[^<>]*>", "", text)
    return text


def known_signatures():
    lines = SIGNATURES.read_text().splitlines()
    return {" ".join(line.split()) for line in lines if line.strip() and not line.startswith("#")}


def stub_classes():
    with zipfile.ZipFile(STUBS_JAR) as jar:
        return sorted(n[:-6].replace("/", ".") for n in jar.namelist() if n.endswith(".class"))


def javap_members(classes):
    out = subprocess.run(["javap", "-public", "-cp", str(STUBS_JAR), *classes], capture_output=True, text=True,
                         check=True).stdout
    members, current = [], None
    for raw in out.splitlines():
        line = erase(raw.strip())
        header = re.match(r"^(?:public |abstract |final |interface |class )*(?:class|interface|enum) (\S+)", line)
        if header:
            current = header.group(1)
            continue
        if not line.endswith(";") or current is None:
            continue
        decl = re.sub(r"\s+throws\s+.*;$", ";", line)[:-1]
        words = [w for w in decl.replace(", ", ",").split() if w not in MODIFIERS]
        if "(" in words[0]:
            continue  # constructor: `Name(...)` with no return type
        if "(" in decl:
            ret, rest = words[0], " ".join(words[1:])
            name = rest.split("(", 1)[0]
            if name == current or name == current.split(".")[-1].split("$")[-1]:
                continue  # constructor
            params = rest[rest.index("(") + 1:rest.rindex(")")]
            members.append(f"{current} {ret} {name}({', '.join(p for p in params.split(',') if p)})")
        else:
            members.append(f"{current} {words[0]} {words[1]}")
    return members


def cited_members():
    """Members whose stub source cites the Pulsar file they come from."""
    cited = set()
    for src in STUB_SOURCES.rglob("*.java"):
        text = src.read_text()
        for m in re.finditer(r"//\s*source:\s*\S+\s*\n\s*(?:@\w+\s*)*([^\n(;=]*)", text):
            cited.add(m.group(1).split()[-1])
    return cited


@pytest.mark.skipif(not STUBS_JAR.exists(), reason="run java-shim/build.sh first")
def test_every_stub_member_is_a_real_pulsar_member():
    assert SIGNATURES.exists(), f"{SIGNATURES} is missing"
    known = known_signatures()
    cited = cited_members()
    members = javap_members(stub_classes())
    assert members, "no stub members found"
    unknown = [m for m in members if m not in known and m.split(" ")[2].split("(")[0] not in cited]
    assert not unknown, "stub members not in Pulsar 4.0's API:\n" + "\n".join(unknown)


def test_a_wrong_signature_is_caught(tmp_path):
    """The comparison itself must fail on a member Pulsar does not have."""
    known = known_signatures()
    assert "org.apache.pulsar.broker.ServiceConfiguration java.util.Properties getProperties()" in known
    assert "org.apache.pulsar.broker.ServiceConfiguration java.lang.String getProperties()" not in known
