//! Layers point one way, and this test keeps them so: every `crate::` path in the crate's
//! non-test code must name a module its layer may use. From the top: the entry points
//! (`standalone`, `plugin`), `server`, `handlers`, the `broker` they share, the coordinators
//! (`txn` above `group`) and `partition`, the host seam (`host`), the hosts (`host::embedded`, `host::pulsar`),
//! and leaves every layer may use (`protocol`, `config`, `topic_config`, `names`, `clock`,
//! `peers`, `tls`). Beside them, the JNI transport `jni` answers the Pulsar host's calls into the broker
//! and uses nothing else; only `plugin` puts the two together. A new import that breaks the rule fails here with
//! the file and the path; if the rule itself should change, change it here, in one place.

use std::collections::BTreeSet;
use std::path::Path;

const LEAVES: &[&str] = &["protocol", "config", "topic_config", "names", "clock", "peers", "tls"];

/// What each unit may use besides itself and the leaves.
const ALLOWED: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("clock", &[]),
    ("names", &[]),
    ("protocol", &[]),
    ("topic_config", &[]),
    ("peers", &[]),
    ("tls", &[]),
    ("host", &[]),
    ("host/embedded", &["host"]),
    ("host/pulsar", &["host"]),
    ("jni", &["host/pulsar"]),
    ("partition", &["host"]),
    ("group", &["partition", "host"]),
    ("txn", &["group", "partition", "host"]),
    ("broker", &["txn", "group", "partition", "host"]),
    ("handlers", &["broker", "txn", "group", "partition", "host"]),
    ("server", &["handlers", "broker"]),
    ("standalone", &["server", "broker", "host", "host/embedded"]),
    ("plugin", &["server", "broker", "host", "host/pulsar", "jni"]),
];

/// Leaves that must not use one another in a circle: each may use only those listed.
const LEAF_USES: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("clock", &[]),
    ("names", &[]),
    ("protocol", &[]),
    ("topic_config", &["config"]),
    ("peers", &["config"]),
    ("tls", &["config"]),
];

/// The unit a source file belongs to, from its path under `src/`.
fn unit_of(relative: &str) -> String {
    let path = relative.trim_end_matches(".rs").trim_end_matches("/mod");
    let mut parts = path.split('/');
    unit_named(parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
}

/// The unit of module `first::second`: the top-level module, except that each host is a unit
/// of its own beside the seam.
fn unit_named(first: &str, second: &str) -> String {
    match (first, second) {
        ("host", sub @ ("embedded" | "pulsar")) => format!("host/{sub}"),
        _ => first.to_string(),
    }
}

/// The units named by `crate::` paths in `code`.
fn used_units(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let mut names = rest.split("::").map(|s| s.split(|c: char| !(c.is_alphanumeric() || c == '_')).next());
            let first = names.next().flatten().unwrap_or_default();
            let second = names.next().flatten().unwrap_or_default();
            if first.is_empty() {
                continue;
            }
            used.insert(unit_named(first, second));
        }
    }
    used
}

/// `code` without its inline `#[cfg(test)] mod … { … }` blocks.
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut lines = code.lines().peekable();
    while let Some(line) = lines.next() {
        let opens_test_module = line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|next| next.trim_start().starts_with("mod ") && next.trim_end().ends_with('{'));
        if !opens_test_module {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut depth = 0i32;
        for inner in lines.by_ref() {
            depth += inner.matches('{').count() as i32 - inner.matches('}').count() as i32;
            if depth <= 0 {
                break;
            }
        }
    }
    out
}

/// Modules declared `#[cfg(test)] mod name;` (test-only), as paths under `src/` without `.rs`:
/// the module is that file, or that directory and everything in it.
fn test_only_files(relative: &str, code: &str) -> Vec<String> {
    let dir = match relative.rsplit_once('/') {
        Some((dir, "mod.rs")) => format!("{dir}/"),
        Some((dir, file)) => format!("{dir}/{}/", file.trim_end_matches(".rs")),
        None if relative == "lib.rs" || relative == "main.rs" => String::new(),
        None => format!("{}/", relative.trim_end_matches(".rs")),
    };
    let lines: Vec<&str> = code.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod ") && w[1].ends_with(';'))
        .map(|w| format!("{dir}{}", w[1].trim().trim_start_matches("mod ").trim_end_matches(';')))
        .collect()
}

/// Whether `path` belongs to one of the test-only modules.
fn is_test_only(path: &str, test_only: &BTreeSet<String>) -> bool {
    let module = path.trim_end_matches(".rs");
    test_only.iter().any(|t| module == t || module.starts_with(&format!("{t}/")))
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("src is readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under src").to_string_lossy().replace('\\', "/");
            out.push((relative, std::fs::read_to_string(&path).expect("source is readable")));
        }
    }
}

#[test]
fn every_import_points_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let test_only: BTreeSet<String> = files.iter().flat_map(|(path, code)| test_only_files(path, code)).collect();
    let mut broken = Vec::new();
    for (path, code) in &files {
        if path == "lib.rs" || path == "main.rs" || path == "layers.rs" || is_test_only(path, &test_only) {
            continue;
        }
        let unit = unit_of(path);
        let Some((_, allowed)) = ALLOWED.iter().find(|(u, _)| *u == unit) else {
            broken.push(format!("{path}: unit `{unit}` has no entry in layers::ALLOWED"));
            continue;
        };
        let leaf_rule = LEAF_USES.iter().find(|(u, _)| *u == unit).map(|(_, uses)| *uses);
        for used in used_units(&without_tests(code)) {
            let ok = used == unit
                || allowed.contains(&used.as_str())
                || match leaf_rule {
                    Some(uses) => uses.contains(&used.as_str()),
                    None => LEAVES.contains(&used.as_str()),
                };
            if !ok {
                broken.push(format!("{path} (unit `{unit}`) uses crate::{used}"));
            }
        }
    }
    assert!(broken.is_empty(), "imports against the layers:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_paths_units_and_test_modules() {
    assert_eq!(unit_of("host/pulsar/log.rs"), "host/pulsar");
    assert_eq!(unit_of("host/memory.rs"), "host");
    assert_eq!(unit_of("handlers/mod.rs"), "handlers");
    let code = "use crate::host::{HostError, embedded};\nfn f() { crate::host::pulsar::x(); }\n// crate::server\n";
    assert_eq!(used_units(code), ["host", "host/pulsar"].map(String::from).into());
    let stripped =
        without_tests("use crate::a::B;\n#[cfg(test)]\nmod tests {\n    use crate::b::C;\n}\nfn after() {}\n");
    assert_eq!(used_units(&stripped), ["a"].map(String::from).into());
    assert!(stripped.contains("fn after"));
    let test_only: BTreeSet<String> =
        test_only_files("handlers/mod.rs", "#[cfg(test)]\nmod tests;\n").into_iter().collect();
    assert_eq!(test_only, ["handlers/tests".to_string()].into());
    assert!(is_test_only("handlers/tests.rs", &test_only) && is_test_only("handlers/tests/admin.rs", &test_only));
    assert!(!is_test_only("handlers/tests_util.rs", &test_only));
}
