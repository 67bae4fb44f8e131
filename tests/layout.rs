//! The crate's layout, checked: no import cycle between files of `src/`, a thin `main.rs`,
//! no file over 1,000 lines, and no clap in the library. Run alone with
//! `cargo test --test layout`; a failure names the cycle or the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, as its path relative to `src/`.
fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.into_iter()
        .map(|p| p.strip_prefix(&root).expect("under src").to_path_buf())
        .collect()
}

/// The module path of a file: `audit/policies/mod.rs` is `audit::policies`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The text with comments and string literals blanked, so a path in a doc comment or a
/// message is not taken for an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Module paths a file names, each as an absolute module path that may end in an item:
/// `crate::a::b`, `super::c`, `self::d`, a child module's `e::f`, and the items of `use`
/// groups (`use crate::a::{b, c::d}`). `is_module` says whether a path is a module.
fn named_paths(
    module: &[String],
    text: &str,
    is_module: &dyn Fn(&[String]) -> bool,
) -> Vec<Vec<String>> {
    let code = code_only(text);
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start_ok =
            (i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':') && is_ident(bytes[i]);
        if !start_ok {
            i += 1;
            continue;
        }
        // Read `a::b::c` (stopping before a `{` group).
        let mut segs = Vec::new();
        loop {
            let s = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            segs.push(code[s..i].to_string());
            if code[i..].starts_with("::") && bytes.get(i + 2).copied().is_some_and(is_ident) {
                i += 2;
            } else {
                break;
            }
        }
        let group = code[i..].starts_with("::{");
        if segs.len() < 2 && !group {
            continue;
        }
        let mut path: Vec<String> = match segs[0].as_str() {
            "crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => module.to_vec(),
            first => {
                let mut child = module.to_vec();
                child.push(first.to_string());
                if !is_module(&child) {
                    continue;
                }
                module.to_vec()
            }
        };
        let mut rest = &segs[..];
        while let Some(s) = rest.first() {
            match s.as_str() {
                "crate" | "self" => {}
                "super" => {
                    path.pop();
                }
                _ => break,
            }
            rest = &rest[1..];
        }
        path.extend(rest.iter().cloned());
        if group {
            i += 3;
            let end = code[i..].find('}').map_or(bytes.len(), |e| i + e);
            for item in code[i..end].split(',') {
                let mut p = path.clone();
                p.extend(
                    item.split("::")
                        .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                        .filter(|s| !s.is_empty() && s != "self" && s != "*"),
                );
                out.push(p);
            }
            i = end;
        } else {
            out.push(path);
        }
    }
    out
}

/// The file's text before its `#[cfg(test)] mod tests`: a unit test may use its parent's
/// items freely, and its `super` means the file, not the file's parent.
fn without_test_module(text: &str) -> &str {
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let at = from + at;
        let rest = text[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") {
            return &text[..at];
        }
        from = at + 1;
    }
    text
}

/// The file a module path points into: its longest prefix that is a file's module.
fn file_of<'a>(
    path: &[String],
    modules: &'a BTreeMap<Vec<String>, PathBuf>,
) -> Option<&'a PathBuf> {
    (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

#[test]
fn no_import_cycle_between_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<PathBuf> = sources()
        .into_iter()
        .filter(|f| !f.starts_with("main.rs") && !f.starts_with("cli"))
        .collect();
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(root.join(f)).expect("readable source");
        let text = without_test_module(&text);
        let module = module_of(f);
        let is_module = |p: &[String]| modules.contains_key(p);
        for p in named_paths(&module, text, &is_module) {
            if let Some(to) = file_of(&p, &modules) {
                if to != f {
                    edges.entry(f.clone()).or_default().insert(to.clone());
                }
            }
        }
    }
    // Depth-first search for a cycle; report the first one found, as a chain of files.
    fn visit(
        n: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                0 => visit(m, edges, state, stack, cycles),
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap_or(0);
                    let chain: Vec<String> = stack[from..]
                        .iter()
                        .chain(std::iter::once(m))
                        .map(|p| p.display().to_string())
                        .collect();
                    cycles.push(chain.join(" -> "));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for f in &files {
        if !state.contains_key(f) {
            visit(f, &edges, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between files of src/:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    // The parser behind no_import_cycle_between_files, on a made-up pair of files.
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let is_module = |p: &[String]| p == s(&["x", "k"]).as_slice();
    let a = named_paths(
        &s(&["x"]),
        "use crate::y::{Thing, z::Other};\nlet v = super::w::f(); k::g(); std::mem::drop(v);",
        &is_module,
    );
    assert!(a.contains(&s(&["y", "Thing"])), "{a:?}");
    assert!(a.contains(&s(&["y", "z", "Other"])), "{a:?}");
    assert!(a.contains(&s(&["w", "f"])), "{a:?}");
    assert!(a.contains(&s(&["x", "k", "g"])), "{a:?}");
    assert!(!a.iter().any(|p| p.contains(&"std".to_string())), "{a:?}");
    let ignored = named_paths(
        &s(&["x"]),
        "// use crate::q;\nlet s = \"crate::r\";",
        &is_module,
    );
    assert!(ignored.is_empty(), "{ignored:?}");
}

#[test]
fn main_is_thin_and_no_file_is_long() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for f in sources() {
        let lines = std::fs::read_to_string(root.join(&f))
            .expect("readable source")
            .lines()
            .count();
        let limit = if f == Path::new("main.rs") { 200 } else { 1000 };
        if lines >= limit {
            long.push(format!("{} has {lines} lines (limit {limit})", f.display()));
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_library_does_not_depend_on_clap() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let users: Vec<String> = sources()
        .into_iter()
        .filter(|f| !f.starts_with("main.rs") && !f.starts_with("cli"))
        .filter(|f| {
            let text = std::fs::read_to_string(root.join(f)).expect("readable source");
            code_only(&text).contains("clap")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(users.is_empty(), "clap used in the library: {users:?}");
}
