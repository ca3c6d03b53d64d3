//! The architecture's invariants (ARCHITECTURE.md, "Invariants"), checked
//! over `cargo metadata`, so that a dependency that breaks one fails the
//! suite instead of waiting for a reviewer to notice.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Package name -> the package names it depends on for normal builds (no
/// dev- or build-dependencies), for the host platform's resolved graph.
fn normal_graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this platform's graph: the others need crates that were never
    // downloaded (and a rule broken only on Windows is not ours to check).
    let rustc = std::process::Command::new("rustc").arg("-vV").output().expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
        .current_dir(komp_tests::root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: BTreeMap<String, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_string(), p["name"].as_str().unwrap().to_string()))
        .collect();
    let mut graph = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let from = names[node["id"].as_str().unwrap()].clone();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
            .map(|d| names[d["pkg"].as_str().unwrap()].clone())
            .collect();
        graph.entry(from).or_insert_with(BTreeSet::new).extend(deps);
    }
    (graph, names)
}

/// wasmtime's own dependencies are its business: `wasmtime-wasi` requires
/// tokio for WASI pollables and wasmtime's API uses anyhow. The rules below
/// are about what komp's crates bring in, so the search does not go below
/// these.
const SANDBOX: &[&str] = &["wasmtime", "wasmtime-wasi"];

/// Every package `root` pulls into a normal build, with one path to each
/// (not looking inside [`SANDBOX`]).
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeMap<String, Vec<String>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut todo = vec![(root.to_string(), vec![root.to_string()])];
    while let Some((p, path)) = todo.pop() {
        if SANDBOX.contains(&p.as_str()) {
            continue;
        }
        for d in graph.get(&p).into_iter().flatten() {
            if !seen.contains_key(d) {
                let mut via = path.clone();
                via.push(d.clone());
                seen.insert(d.clone(), via.clone());
                todo.push((d.clone(), via));
            }
        }
    }
    seen
}

fn assert_none_of(graph: &BTreeMap<String, BTreeSet<String>>, krate: &str, forbidden: &[&str], why: &str) {
    assert!(graph.contains_key(krate), "{krate} is not in the workspace any more; update this test");
    let deps = closure(graph, krate);
    let found: Vec<String> =
        forbidden.iter().filter_map(|f| deps.get(*f).map(|path| format!("{f} (via {})", path.join(" -> ")))).collect();
    assert!(found.is_empty(), "{krate} {why}, but depends on: {}", found.join("; "));
}

#[test]
fn komp_runtime_knows_no_http_database_metrics_or_command_line() {
    let (g, _) = normal_graph();
    assert_none_of(
        &g,
        "komp-runtime",
        &["axum", "hyper", "tokio", "sled", "prometheus-client", "clap", "ureq", "komp-registry", "komp-audit"],
        "is what a vendor embeds: it must know no HTTP, database, metrics or argument parsing",
    );
}

/// The workspace's libraries: everything a vendor or another tool may link.
const LIBRARIES: &[&str] = &[
    "komp-artifact",
    "komp-author",
    "komp-sdk",
    "komp-runtime",
    "komp-registry",
    "komp-oci",
    "komp-audit",
    "komp-validate",
    "komp-server",
    "komp-web",
];

#[test]
fn only_the_binary_parses_arguments() {
    let (g, _) = normal_graph();
    for lib in LIBRARIES {
        assert_none_of(&g, lib, &["clap"], "is a library: only the `komp` binary parses arguments");
    }
}

#[test]
fn the_libraries_report_typed_errors_not_anyhow() {
    // Direct dependencies only: tract and wasmtime use anyhow inside, which
    // is theirs; what matters is that our libraries' errors are typed.
    let (g, _) = normal_graph();
    // komp-server is the application around the libraries: anyhow at start-up, as in a binary.
    for lib in LIBRARIES.iter().filter(|l| **l != "komp-server") {
        let direct = g.get(*lib).unwrap_or_else(|| panic!("{lib} is not in the workspace any more; update this test"));
        assert!(
            !direct.contains("anyhow"),
            "{lib} returns typed errors (thiserror); anyhow is for the binary and the server"
        );
    }
}

#[test]
fn the_component_format_and_the_sdk_pull_in_no_runtime() {
    let (g, _) = normal_graph();
    for lib in ["komp-artifact", "komp-author", "komp-sdk"] {
        assert_none_of(
            &g,
            lib,
            &["wasmtime", "tract-onnx", "komp-runtime", "komp-server", "tokio"],
            "is read by every tool and built into every component (komp-author: the authoring library checks files; running belongs to the binary)",
        );
    }
}

#[test]
fn the_shared_pages_know_no_tenant_audit_log_or_runtime() {
    // komp-web renders what both `komp serve` and the registry server show;
    // tenant data, sessions and predictions stay in komp-server.
    let (g, _) = normal_graph();
    assert_none_of(
        &g,
        "komp-web",
        &["komp-server", "komp-audit", "komp-runtime", "komp-validate", "wasmtime", "tract-onnx"],
        "renders the pages both servers show and must know no tenant, audit log or runtime",
    );
}
