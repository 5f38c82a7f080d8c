//! One test's canary group: names no other test uses, its spec files, `canary` invocations, and a
//! cleanup that runs even when the test panics.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bin::canary_bin;
use crate::docker;
use crate::stack::Stack;

/// The stable image of the tests: the demo app answering `v1`.
pub const V1: &str = "canary-e2e:v1";
/// The canary image of the tests: the demo app answering `v2` (another image ID than [`V1`]).
pub const V2: &str = "canary-e2e:v2";

/// `cte<6 hex>`: a name no other test run uses.
pub fn unique_name() -> String {
    unique_name_with("cte")
}

/// `<prefix><6 hex>`: a name no other test run uses.
pub fn unique_name_with(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mix = (nanos as u64)
        ^ ((std::process::id() as u64) << 24)
        ^ ((N.fetch_add(1, Ordering::Relaxed) as u64) << 44);
    format!(
        "{prefix}{:06x}",
        (mix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) & 0xff_ffff
    )
}

/// What a finished `canary` invocation gave.
#[derive(Debug, Clone)]
pub struct Done {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl Done {
    /// stdout's lines that are JSON objects.
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The last JSON line with `"type": kind`.
    pub fn last(&self, kind: &str) -> Option<Value> {
        self.json().into_iter().rev().find(|v| v["type"] == kind)
    }

    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A test's canary group and stack, `<name>`, with apps `<name>_<app>`; everything is removed when
/// dropped.
#[derive(Debug)]
pub struct Group {
    /// The stack the group runs on.
    pub stack: Stack,
    /// The group's (and its stack's) name.
    pub name: String,
    /// The `Host` of its routes: `<name>.localhost`.
    pub host: String,
    /// A directory for its spec files.
    pub dir: PathBuf,
}

impl Group {
    /// A fresh group on `stack`, and the test images built.
    pub fn new(stack: &Stack) -> Self {
        Self::with_prefix(stack, "cte")
    }

    /// [`Group::new`] with names `<prefix><6 hex>`, for a suite that owns its own prefix.
    pub fn with_prefix(stack: &Stack, prefix: &str) -> Self {
        build_test_images(stack);
        let name = unique_name_with(prefix);
        let dir = std::env::temp_dir().join(format!("canary-e2e-{name}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Group {
            stack: stack.clone(),
            host: format!("{name}.localhost"),
            name,
            dir,
        }
    }

    /// The Swarm service of `app`'s stable (`canary: false`) or canary.
    pub fn service(&self, app: &str, canary: bool) -> String {
        format!("{}_{app}{}", self.name, if canary { "-canary" } else { "" })
    }

    /// A spec of the group with `apps` (each routed at `Host(<name>.localhost) && PathPrefix(/<app>)`),
    /// stable on [`V1`] (1 task), canary [`V2`], steps `steps`, `interval`, the analysis given
    /// as YAML lines under `analysis:` (or a default: a 3s window, at least 5 requests, success
    /// rate at least 0.99, critical), and `extra` YAML appended.
    pub fn spec(
        &self,
        apps: &[&str],
        steps: &str,
        interval: &str,
        analysis: Option<&str>,
        extra: &str,
    ) -> String {
        let mut s = format!("group: {0}\nstack: {0}\napps:\n", self.name);
        for app in apps {
            s.push_str(&format!(
                "  - name: {app}\n    image: {V2}\n    stableImage: {V1}\n    stableReplicas: 1\n    port: 8080\n    \
                 rule: \"Host(`{host}`) && PathPrefix(`/{app}`)\"\n    healthPath: /health\n",
                host = self.host
            ));
        }
        s.push_str(&format!(
            "traffic:\n  steps: [{steps}]\n  interval: {interval}\n"
        ));
        let analysis = analysis.unwrap_or(
            "  window: 3s\n  minRequests: 5\n  inconclusiveLimit: 3\n  checks:\n    - {name: success-rate, metric: successRate, min: 0.99, critical: true}\n",
        );
        s.push_str("analysis:\n");
        s.push_str(analysis);
        s.push_str("timeouts:\n  call: 20s\n  converge: 60s\n");
        s.push_str(extra);
        s
    }

    /// Writes a spec file; returns its path.
    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.dir.join(file);
        std::fs::write(&p, text).expect("spec written");
        p
    }

    fn command(&self, spec: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(canary_bin());
        c.args(args).arg("-f").arg(spec).envs(self.stack.env());
        c
    }

    /// Runs `canary ARGS -f SPEC` to the end.
    pub fn canary(&self, spec: &Path, args: &[&str]) -> Done {
        let out = self.command(spec, args).output().expect("canary runs");
        let done = Done {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "$ canary {} -f {} -> {:?}",
            args.join(" "),
            spec.display(),
            done.code
        );
        done
    }

    /// `canary deploy` of `spec` with the test label; panics unless it succeeds.
    pub fn deploy(&self, spec: &Path) -> Done {
        let d = self.canary(spec, &["deploy", "--label", "io.canary.test=1"]);
        d.expect_code(0, "canary deploy");
        d
    }

    /// `canary status -o json`.
    pub fn status(&self, spec: &Path) -> Value {
        let d = self.canary(spec, &["status", "-o", "json"]);
        d.expect_code(0, "canary status");
        d.last("status").expect("a status object")
    }

    /// Starts `canary ARGS -f SPEC -o json` in the background (e.g. `run`).
    pub fn spawn(&self, spec: &Path, args: &[&str]) -> Run {
        let mut child = self
            .command(spec, args)
            .args(["-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("canary starts");
        eprintln!(
            "$ canary {} -f {} -o json &  (pid {})",
            args.join(" "),
            spec.display(),
            child.id()
        );
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        let pid = child.id();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                eprintln!("  [{pid}] {}", short(&line));
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().expect("lines").push(v);
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            sink.lock().expect("stderr").push_str(&s);
        });
        Run {
            child,
            lines,
            stderr,
            readers: vec![reader, err_reader],
            started: Instant::now(),
        }
    }

    fn cleanup(&self) {
        // Routes first: Traefik must stop referencing a service before it goes.
        let file = self
            .stack
            .dynamic_dir
            .join(format!("canary-{}.yml", self.name));
        if std::fs::remove_file(&file).is_ok() {
            std::thread::sleep(Duration::from_millis(800));
        }
        let filter = format!("name={}_", self.name);
        if let Ok(out) = docker::run(&["service", "ls", "-q", "--filter", &filter]) {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = docker::run(&["service", "rm", id]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn short(line: &str) -> String {
    if line.len() > 400 {
        let mut end = 400;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &line[..end])
    } else {
        line.to_string()
    }
}

/// A `canary` process running in the background with `-o json`; killed when dropped.
#[derive(Debug)]
pub struct Run {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
}

impl Run {
    /// The JSON lines so far.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().expect("lines").clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line matches `pred`; panics after `timeout`, or when the process ends first.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_until(what, timeout, |lines| {
            lines.iter().find(|v| pred(v)).cloned()
        })
    }

    /// Waits until `f` finds something in the lines so far; panics after `timeout`, or when the
    /// process ends first.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&[Value]) -> Option<Value>,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f(&self.lines()) {
                return v;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers catch up with the last lines.
                std::thread::sleep(Duration::from_millis(300));
                if let Some(v) = f(&self.lines()) {
                    return v;
                }
                panic!(
                    "waiting for {what}: canary exited ({status}) first; stderr: {}",
                    self.stderr.lock().expect("stderr")
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {timeout:?}; lines: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the `n`-th event (from 1) of `kind`.
    pub fn wait_event(&mut self, kind: &str, n: usize, timeout: Duration) -> Value {
        self.wait_until(&format!("event {kind} #{n}"), timeout, |lines| {
            lines
                .iter()
                .filter(|v| v["type"] == "event" && v["kind"] == kind)
                .nth(n - 1)
                .cloned()
        })
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the end; the exit code, the JSON lines and stderr. Panics after `timeout`.
    pub fn finish(mut self, timeout: Duration) -> (Option<i32>, Vec<Value>, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "canary did not finish within {timeout:?}; lines: {:#?}",
                    self.lines()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        eprintln!(
            "  canary (pid {}) exited {status} after {:.1}s",
            self.child.id(),
            self.started.elapsed().as_secs_f64()
        );
        let stderr = self.stderr.lock().expect("stderr").clone();
        (status.code(), self.lines(), stderr)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Builds [`V1`] and [`V2`] once per test process with `canary build` (from `canary-demo:latest`,
/// `VERSION` set to the tag), so stable and canary are two images with two IDs.
pub fn build_test_images(stack: &Stack) {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("canary-e2e-images-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("app")).expect("dir");
        std::fs::write(
            dir.join("app/Dockerfile"),
            "FROM canary-demo:latest\nARG CANARY_TRACK\nARG CANARY_IMAGE\nARG CANARY_TAG=dev\nENV VERSION=${CANARY_TAG}\n",
        )
        .expect("Dockerfile");
        let spec = dir.join("images.yaml");
        std::fs::write(
            &spec,
            format!(
                "group: canary-e2e-images\napps:\n  - name: app\n    image: {V2}\n    stableImage: {V1}\n    port: 8080\n    \
                 rule: \"Host(`x`)\"\n    build: {{context: app}}\n"
            ),
        )
        .expect("spec");
        for track in ["stable", "canary"] {
            let out = Command::new(canary_bin())
                .args(["build", "--track", track, "-o", "json", "-f"])
                .arg(&spec)
                .envs(stack.env())
                .output()
                .expect("canary build runs");
            assert!(
                out.status.success(),
                "canary build --track {track}: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert_ne!(docker::image_id(V1), docker::image_id(V2), "the test images must differ");
    });
}
