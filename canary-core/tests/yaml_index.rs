//! The location index: every path of block, flow, anchored, merged, quoted, multi-line, commented
//! and CRLF YAML points at the right line, column and bytes; errors of the spec are annotated
//! with them; limits hold and no input panics.

use canary_core::yaml_index::{ViaKind, YamlError, YamlIndex, MAX_BYTES, MAX_DEPTH};
use canary_core::{Error, Spec};
use proptest::prelude::*;

/// The text at `path`'s span, and its (line, column).
fn at(text: &str, path: &str) -> (String, (usize, usize)) {
    let index = YamlIndex::parse(text).unwrap();
    let loc = index
        .get(path)
        .unwrap_or_else(|| panic!("{path} not indexed in\n{text}"));
    (text[loc.span.clone()].to_string(), (loc.line, loc.column))
}

#[test]
fn block_mappings_and_sequences() {
    let text = "group: neotix\napps:\n  - name: api\n    image: api:v2\n    port: 8080\ntraffic:\n  steps:\n    - 20\n    - 50\n";
    assert_eq!(at(text, "group"), ("neotix".into(), (1, 8)));
    assert_eq!(at(text, "apps[0].image"), ("api:v2".into(), (4, 12)));
    assert_eq!(at(text, "apps[0].port"), ("8080".into(), (5, 11)));
    assert_eq!(at(text, "traffic.steps[1]"), ("50".into(), (9, 7)));
    // A block sequence starts at its dash, a block mapping at its first key.
    assert_eq!(at(text, "apps").1, (3, 3));
    assert_eq!(at(text, "apps[0]").1, (3, 5));
    assert!(at(text, "apps[0]").0.ends_with("port: 8080"));
    assert_eq!(at(text, "traffic.steps").0, "- 20\n    - 50");
    let index = YamlIndex::parse(text).unwrap();
    assert_eq!(index.get("").map(|l| l.span.start), Some(0));
    assert!(index.get("apps[1]").is_none());
    assert!(index.get("apps[0].name.x").is_none());
}

#[test]
fn flow_collections() {
    let text = "traffic: {steps: [20, 50 , 80], headerRoute: {name: X-Canary, value: \"true\"}}\n";
    assert_eq!(at(text, "traffic.steps").0, "[20, 50 , 80]");
    assert_eq!(at(text, "traffic.steps[1]"), ("50".into(), (1, 23)));
    assert_eq!(at(text, "traffic.steps[2]").0, "80");
    assert_eq!(at(text, "traffic.headerRoute.value").0, "\"true\"");
    assert_eq!(
        at(text, "traffic.headerRoute").0,
        "{name: X-Canary, value: \"true\"}"
    );
    assert_eq!(at(text, "traffic").1, (1, 10));
}

#[test]
fn quoted_scalars_end_at_their_quote_not_at_the_comment() {
    let text = "a: \"x \\\" y\"   # comment \"q\"\nb: 'it''s'  # c\nc: [\"d\" , 'e' ]\n";
    assert_eq!(at(text, "a").0, "\"x \\\" y\"");
    assert_eq!(at(text, "b").0, "'it''s'");
    assert_eq!(at(text, "c[0]").0, "\"d\"");
    assert_eq!(at(text, "c[1]").0, "'e'");
}

#[test]
fn multi_line_scalars() {
    let text = "cmd: |\n  one\n  two\n\nfolded: >- # note | here\n  a\n  b\n# between\nplain: first\n  second\nq: \"x\n  y\"\nafter: 1\n";
    assert_eq!(at(text, "cmd"), ("|\n  one\n  two".into(), (1, 6)));
    assert_eq!(
        at(text, "folded"),
        (">- # note | here\n  a\n  b".into(), (5, 9))
    );
    assert_eq!(at(text, "plain").0, "first\n  second");
    assert_eq!(at(text, "q").0, "\"x\n  y\"");
    assert_eq!(at(text, "after").1, (13, 8));
}

#[test]
fn block_scalars_with_properties_and_a_comment_before_them() {
    let text = "a: &x !t | # c\n\n  text\nb: # c|\n  >-\n  x\nc: !!str\n  # c\n  v\n";
    assert_eq!(at(text, "a").0, "| # c\n\n  text");
    assert_eq!(at(text, "b"), (">-\n  x".into(), (5, 3)));
    assert_eq!(at(text, "c"), ("v".into(), (9, 3)));
}

#[test]
fn crlf_and_bom() {
    let text = "\u{feff}group: g\r\napps:\r\n  - image: \"a:b\" # c\r\n    rule: |\r\n      x\r\n      y\r\nz: 1\r\n";
    assert_eq!(at(text, "group"), ("g".into(), (1, 8)));
    assert_eq!(at(text, "apps[0].image"), ("\"a:b\"".into(), (3, 12)));
    assert_eq!(at(text, "apps[0].rule").0, "|\r\n      x\r\n      y");
    assert_eq!(at(text, "z"), ("1".into(), (7, 4)));
}

#[test]
fn aliases_point_at_the_anchor_and_say_so() {
    let text = "x-img: &img reg/api:v1\nx-d: &d\n  replicas: 2\n  image: *img\nservices:\n  api:\n    <<: *d\n    replicas: 4\n  web:\n    image: *img\n  both:\n    <<: [*d, {extra: 1}]\n";
    let index = YamlIndex::parse(text).unwrap();
    let web = index.get("services.web.image").unwrap();
    assert_eq!(&text[web.span.clone()], "reg/api:v1");
    assert_eq!((web.line, web.column), (1, 13));
    let via = web.via.unwrap();
    assert_eq!((via.kind, via.line, via.column), (ViaKind::Alias, 10, 12));
    // Merged keys point into the anchored mapping; own keys win over merged ones.
    let merged = index.get("services.api.image").unwrap();
    assert_eq!(&text[merged.span.clone()], "reg/api:v1");
    assert_eq!(merged.via.unwrap().kind, ViaKind::Merge);
    assert_eq!(
        (merged.via.unwrap().line, merged.via.unwrap().column),
        (7, 9)
    );
    let own = index.get("services.api.replicas").unwrap();
    assert_eq!((own.line, own.via), (8, None));
    assert_eq!(index.get("services.both.replicas").unwrap().line, 3);
    assert_eq!(index.get("services.both.extra").unwrap().line, 12);
    assert!(index.get("services.api.<<").is_none());
    assert_eq!(
        merged.to_string(),
        "line 1, column 13, merged in by `<<` at line 7, column 9"
    );
    assert_eq!(
        web.to_string(),
        "line 1, column 13, reached through the alias at line 10, column 12"
    );
}

#[test]
fn annotate_adds_the_line_to_a_spec_error() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/neotix/canary.yaml"
    ))
    .unwrap();
    let bad = text.replace("steps: [20, 50, 80]", "steps: [20, 50, 40]");
    let err = Spec::from_yaml(&bad).unwrap_err();
    let index = YamlIndex::parse(&bad).unwrap();
    let line = bad
        .lines()
        .position(|l| l.contains("steps: [20, 50, 40]"))
        .unwrap()
        + 1;
    let col = bad.lines().nth(line - 1).unwrap().find("40").unwrap() + 1;
    assert_eq!(
        index.annotate(err).to_string(),
        format!(
            "traffic.steps[2]: 40 is not above the step before (50) (line {line}, column {col})"
        )
    );
    // A defaulted field is reported at the mapping that would hold it.
    let e = index.annotate(Error::invalid("traffic.interval.x", "too short"));
    assert!(e
        .to_string()
        .starts_with("traffic.interval.x: too short (line "));
    let e = index.annotate(Error::invalid("apps[0].canaryEnv", "bad"));
    let apps0 = bad
        .lines()
        .position(|l| l.contains("- name: neotix-api"))
        .unwrap()
        + 1;
    assert!(
        e.to_string()
            .ends_with(&format!("(line {apps0}, column 5)")),
        "{e}"
    );
    // Unknown places and other errors are left alone.
    let e = index.annotate(Error::invalid("nothing.here", "r"));
    assert_eq!(e.to_string(), "nothing.here: r");
    let e = index.annotate(Error::invalid("", "r"));
    assert_eq!(e.to_string(), "r");
    assert_eq!(index.annotate(Error::conflict("c")), Error::conflict("c"));
}

#[test]
fn limits_are_typed_errors() {
    let big = "a: b\n".repeat(MAX_BYTES / 5 + 1);
    assert!(matches!(
        YamlIndex::parse(&big),
        Err(YamlError::TooLarge { max: MAX_BYTES, .. })
    ));
    let deep = format!(
        "{}1{}",
        "[".repeat(MAX_DEPTH + 1),
        "]".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        YamlIndex::parse(&deep),
        Err(YamlError::TooDeep { max: MAX_DEPTH, .. })
    ));
    let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(YamlIndex::parse(&ok).is_ok());
    let mut deep_block = String::new();
    for i in 0..=MAX_DEPTH {
        deep_block.push_str(&format!("{}k:\n", " ".repeat(i)));
    }
    assert!(matches!(
        YamlIndex::parse(&deep_block),
        Err(YamlError::TooDeep { .. })
    ));
    // Aliases nesting each other expand deeper than they are written.
    let mut chain = String::from("a0: &a0 [x]\n");
    for i in 1..=MAX_DEPTH + 1 {
        chain.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
    }
    assert!(matches!(
        YamlIndex::parse(&chain),
        Err(YamlError::TooDeep { .. })
    ));
}

#[test]
fn a_billion_laughs_is_refused() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = (b'a' + i - 1) as char;
        let c = (b'a' + i) as char;
        text.push_str(&format!(
            "{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        ));
    }
    assert!(matches!(
        YamlIndex::parse(&text),
        Err(YamlError::TooManyNodes { .. })
    ));
}

#[test]
fn bad_documents_are_refused_with_their_line() {
    let cases: &[(&str, &str)] = &[
        ("a: 1\nb: [1, 2\n", "line"),
        ("a: 1\na: 2\n", "appears twice"),
        ("a: &x [*x]\n", "contains it"),
        ("a: *nope\n", "unknown anchor"),
        ("a: 1\n---\nb: 2\n", "one YAML document"),
        ("a:\n  <<: 5\n", "`<<`"),
        ("a:\n  <<: [1]\n", "`<<`"),
        ("? [a]\n: 1\n", "key must be a scalar"),
    ];
    for (text, needle) in cases {
        match YamlIndex::parse(text) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{text:?}: {msg}");
                assert!(msg.starts_with("line ") || msg.contains("line"), "{msg}");
                let core: Error = e.into();
                assert_eq!(core.code(), "CANARY_INVALID_INPUT");
            }
            Ok(_) => panic!("{text:?} was accepted"),
        }
    }
    assert!(matches!(
        YamlIndex::parse("a: 1\na: 2\n"),
        Err(YamlError::DuplicateKey {
            line: 2,
            column: 1,
            ..
        })
    ));
}

#[test]
fn empty_and_scalar_documents() {
    for text in ["", "# only a comment\n", "---\n", "plain"] {
        let index = YamlIndex::parse(text).unwrap();
        assert_eq!(index.len(), 1, "{text:?}");
        assert!(index.get("").is_some());
        assert!(!index.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = YamlIndex::parse(&text);
    }

    #[test]
    fn yaml_ish_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("a: "), Just("- "), Just("\n"), Just("\r\n"), Just("  "), Just("&x "),
                Just("*x"), Just("<<: "), Just("[ "), Just("]"), Just("{ "), Just("}"),
                Just(", "), Just("|"), Just(">-"), Just("\"q\\\" "), Just("'s'' "), Just("# c"),
                Just("!t "), Just("!!str "), Just("? "), Just(": "), Just("---"), Just("..."),
                Just("\u{feff}"), Just("é"), Just("\t"), Just("%YAML 1.2"), Just("k"),
            ],
            0..60,
        )
    ) {
        let text: String = parts.concat();
        let parsed = YamlIndex::parse(&text);
        if let Ok(index) = parsed {
            // Every span lies within the text on character boundaries, and its line is the
            // line its first byte is on.
            let bytes = text.as_bytes();
            let line_starts: Vec<usize> = std::iter::once(0)
                .chain((0..bytes.len()).filter_map(|i| {
                    let brk = bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
                    brk.then_some(i + 1)
                }))
                .collect();
            for (path, loc) in index.iter() {
                prop_assert!(text.get(loc.span.clone()).is_some(), "{path}: {loc:?}");
                let line = line_starts.partition_point(|&s| s <= loc.span.start);
                prop_assert_eq!(loc.line, line, "{}", path);
            }
        }
    }
}
