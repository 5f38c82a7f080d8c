//! Library failures at canary-core's own edges (files it reads) arrive as a `source()` chain,
//! with the library's error at its head, and keep their code and words.

use std::error::Error as _;
use std::path::PathBuf;

use canary_core::recording::Recording;
use canary_core::yaml_index::{YamlError, YamlIndex};
use canary_core::{Error, SpecFile};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("canary-sources-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_missing_spec_file_is_an_io_error() {
    let dir = scratch("missing");
    let e = SpecFile::load(dir.join("nope.yml"), &[]).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(e.code(), "CANARY_INVALID_INPUT", "{e}");
    let io = e
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("std's io error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains(&io.to_string()), "{e}");
}

#[test]
fn a_spec_file_that_is_not_yaml_keeps_the_parser_error() {
    let dir = scratch("garbage");
    let path = dir.join("canary.yml");
    std::fs::write(&path, "group: [unclosed\n  apps: {\n").unwrap();
    let e = SpecFile::load(&path, &[]).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    let cause = e.source().expect("the parser's error");
    assert!(
        cause.downcast_ref::<serde_saphyr::Error>().is_some(),
        "{cause:?}"
    );
}

#[test]
fn a_recording_line_that_is_not_json_keeps_serde_json_error() {
    let header =
        r#"{"format":"canary-recording","version":1,"group":"shop","startedMs":1,"spec":{}}"#;
    let text = format!("{header}\n{{\"type\": \"query\", oops\n");
    let e = Recording::parse(text.as_bytes()).unwrap_err();
    assert_eq!(e.code(), "CANARY_INVALID_INPUT", "{e}");
    assert!(e.to_string().contains("line 2"), "{e}");
    let json = e
        .source()
        .and_then(|s| s.downcast_ref::<serde_json::Error>())
        .expect("serde_json's error");
    assert!(json.is_syntax(), "{json}");
}

#[test]
fn a_yaml_syntax_error_chains_down_to_the_scanner() {
    let err = YamlIndex::parse("a: [1, 2\nb: 3\n").unwrap_err();
    assert!(matches!(err, YamlError::Syntax { .. }), "{err}");
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<saphyr_parser::ScanError>())
            .is_some(),
        "{err:?}"
    );
    let core = Error::from(err.clone());
    let yaml = core
        .source()
        .and_then(|s| s.downcast_ref::<YamlError>())
        .expect("the YamlError");
    assert_eq!(yaml, &err);
    // This reader's own checks have no parser error under them.
    let dup = YamlIndex::parse("a: 1\na: 2\n").unwrap_err();
    assert!(dup.source().is_none(), "{dup:?}");
}
