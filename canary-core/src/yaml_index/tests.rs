//! Unit tests of what the public API does not show: the tree's JSON reading, checked against an
//! independent YAML reader (serde-saphyr), and the scalar extents of generated documents, checked
//! by reading each extent again on its own.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::tree::{Kind, Style, Tree};
use super::value::to_json;

fn ours(text: &str) -> Value {
    let tree = Tree::parse(text).unwrap();
    to_json(&tree, tree.root).unwrap()
}

fn theirs(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap()
}

#[test]
fn json_matches_an_independent_reader() {
    let example = include_str!("../../../examples/neotix/canary.yaml");
    let seed = include_str!("../../tests/fixtures/compose/seed/docker-compose.canary.yml");
    let cases = [
        example,
        seed,
        "a: 1\nb: -2\nc: 1.5\nd: 1e3\ne: true\nf: False\ng: ~\nh:\ni: null\nj: '1'\nk: \"true\"\nl: 0x1F\nm: 0o17\nn: .5\n",
        "x: &d {a: 1, b: [x, w]}\nv:\n  <<: *d\n  a: 2\nz: *d\n",
        "list:\n- |\n  lit\n  two\n- >-\n  folded\n  text\n- plain\n  multi\n",
        "k: v # comment\n# c\nq: 'it''s'\nr: \"\\u00e9\\t\"\n",
        "a: 18446744073709551615\nb: -9223372036854775808\nd: v1.2\ne: 0.1.2\n",
    ];
    for text in cases {
        assert_eq!(ours(text), theirs(text), "{text}");
    }
}

#[test]
fn tags_and_values_json_cannot_hold() {
    assert_eq!(
        ours("m: !latency 0.99\nq: !query {a: 1}\ns: !!str 5\ni: !!int 7\nb: !!bool true\n"),
        json!({"m": {"latency": 0.99}, "q": {"query": {"a": 1}}, "s": "5", "i": 7, "b": true})
    );
    assert_eq!(
        ours("a: .inf\nb: .nan\nc: 99999999999999999999\n"),
        json!({"a": ".inf", "b": ".nan", "c": "99999999999999999999"})
    );
    // YAML 1.2's core schema, as serde_yaml read it; serde-saphyr also takes 1.1's forms.
    assert_eq!(
        ours("a: yes\nb: off\nc: 1_000\nd: y\n"),
        json!({"a": "yes", "b": "off", "c": "1_000", "d": "y"})
    );
}

/// A generated YAML value and a way to write it.
#[derive(Debug, Clone)]
enum Gen {
    Str(String),
    Num(i64),
    Seq(Vec<Gen>),
    Map(Vec<(String, Gen)>),
}

fn gen() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        "[a-z][a-z0-9 :#'\"{}\\[\\],&*!|>@/.-]{0,12}".prop_map(Gen::Str),
        "[a-z]{1,6}( [a-z]{1,6}){0,3}(\n[a-z]{1,6}){1,3}\n?".prop_map(Gen::Str),
        any::<i64>().prop_map(Gen::Num),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..5).prop_map(Gen::Seq),
            proptest::collection::btree_map("[a-z]{1,8}", inner, 1..5)
                .prop_map(|m| Gen::Map(m.into_iter().collect())),
        ]
    })
}

fn json_of(g: &Gen) -> Value {
    match g {
        Gen::Str(s) => json!(s),
        Gen::Num(n) => json!(n),
        Gen::Seq(v) => Value::Array(v.iter().map(json_of).collect()),
        Gen::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
    }
}

fn pick(seed: &mut u64, n: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) % n
}

/// Writes `g` as a block value at `indent`, choosing styles from `seed`.
fn write(g: &Gen, indent: usize, seed: &mut u64, out: &mut String) {
    let pad = " ".repeat(indent);
    match g {
        Gen::Str(s) if s.contains('\n') => {
            let chomp = if s.ends_with('\n') { "" } else { "-" };
            out.push_str(&format!("|{chomp} # note\n"));
            for line in s.trim_end_matches('\n').split('\n') {
                out.push_str(&format!("{pad}  {line}\n"));
            }
        }
        Gen::Str(s) => {
            match pick(seed, 3) {
                0 => out.push_str(&format!("'{}'", s.replace('\'', "''"))),
                1 => out.push_str(&serde_json::to_string(s).unwrap()),
                _ => out.push_str(&format!(
                    "\"{}\"",
                    s.replace('\\', "\\\\").replace('"', "\\\"")
                )),
            }
            out.push_str(if pick(seed, 2) == 0 {
                "  # t \"x\"\n"
            } else {
                "\n"
            });
        }
        Gen::Num(n) => out.push_str(&format!("{n}\n")),
        Gen::Seq(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&format!("{pad}- "));
                if matches!(item, Gen::Seq(_) | Gen::Map(_)) {
                    out.push_str(&format!("&a{} ", pick(seed, 1000)));
                }
                write(item, indent + 2, seed, out);
            }
        }
        Gen::Map(entries) => {
            out.push('\n');
            for (k, v) in entries {
                if pick(seed, 4) == 0 {
                    out.push_str(&format!("{pad}# about {k}\n"));
                }
                out.push_str(&format!("{pad}{k}: "));
                write(v, indent + 2, seed, out);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Generated documents read the same as with serde-saphyr, and each scalar's extent, read
    /// again on its own, is the same scalar.
    #[test]
    fn extents_hold_their_scalars(g in gen(), seed in any::<u64>(), crlf in any::<bool>()) {
        let mut text = String::from("root: ");
        let mut s = seed;
        write(&g, 2, &mut s, &mut text);
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let tree = Tree::parse(&text).unwrap();
        let expected = json!({"root": json_of(&g)});
        prop_assert_eq!(&to_json(&tree, tree.root).unwrap(), &expected);
        prop_assert_eq!(&theirs(&text), &expected);
        for node in &tree.nodes {
            if let Kind::Scalar { value, style, .. } = &node.kind {
                let written = &text[node.start..node.end];
                let again = Tree::parse(written).unwrap();
                let Kind::Scalar { value: v2, style: s2, .. } = &again.node(again.root).kind else {
                    panic!("{written:?} is not a scalar");
                };
                prop_assert_eq!(v2, value, "{:?} at {}..{}", written, node.start, node.end);
                prop_assert_eq!(s2, style);
                if *style == Style::Plain {
                    prop_assert!(!written.ends_with([' ', '\r', '\n']));
                }
            }
        }
    }
}
