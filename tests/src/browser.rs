//! A real browser: Debian's headless Chromium driven through chromedriver's W3C WebDriver API,
//! over plain HTTP on 127.0.0.1 (no WebDriver crate: a dozen calls).
//!
//! Chromium is started with the flags that keep it off the network (no background networking,
//! component updates, sync or QUIC, and a host resolver that resolves nothing but 127.0.0.1),
//! a fresh profile directory, and no sandbox (the
//! tests run as root in CI).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The element key of the W3C WebDriver protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Why there is no browser to test with, if there is none.
pub fn problem() -> Option<String> {
    if which(&["chromedriver"]).is_none() {
        return Some("no chromedriver (apt-get install chromium-driver)".into());
    }
    if which(&["chromium", "chromium-browser"]).is_none() {
        return Some("no chromium (apt-get install chromium)".into());
    }
    None
}

/// True when a browser is there; otherwise prints why the test is skipped, or fails it when
/// `CI` is set (CI must not pass by skipping).
pub fn available_or_skip(test: &str) -> bool {
    match problem() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI is set and there is no browser: {why} (scripts/chromium.sh installs it)")
        }
        Some(why) => {
            eprintln!("SKIPPED {test}: {why} (scripts/chromium.sh installs it)");
            false
        }
    }
}

/// An HTTP answer from chromedriver.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // Navigation and screenshots of a busy page can take a while; nothing takes a minute.
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    // chromedriver keeps the connection open despite `Connection: close`: read what the head
    // announces.
    let mut chunked = false;
    let mut length: Option<usize> = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let h = h.to_ascii_lowercase();
        if h.starts_with("transfer-encoding:") && h.contains("chunked") {
            chunked = true;
        }
        if let Some(v) = h.strip_prefix("content-length:") {
            length = v.trim().parse().ok();
        }
    }
    let mut raw = Vec::new();
    if let Some(n) = length.filter(|_| !chunked) {
        raw.resize(n, 0);
        r.read_exact(&mut raw)?;
    } else if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            raw.extend_from_slice(&chunk[..n]);
        }
    } else {
        r.read_to_end(&mut raw)?;
    }
    serde_json::from_slice(&raw).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{line:?}: {e}: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

/// Standard base64 (screenshots).
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// chromedriver and one headless Chromium session; both stopped when dropped.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free 127.0.0.1 port and a headless Chromium session.
    pub fn start() -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("its address").port()
        };
        let profile = std::env::temp_dir().join(format!("canary-e2e-chromium-{port}"));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile dir");
        let driver = Command::new(which(&["chromedriver"]).expect("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(v) = http(port, "GET", "/status", None) {
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let chromium = which(&["chromium", "chromium-browser"]).expect("chromium");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-default-apps", "--disable-extensions",
                    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                    "--metrics-recording-only", "--disable-dev-shm-usage",
                    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
                    // Resolve no name at all: only 127.0.0.1 is reachable.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--window-size=1280,1500",
                    format!("--user-data-dir={}", b.profile.display()),
                ]
            }
        }}});
        let v = http(port, "POST", "/session", Some(&caps)).expect("new session");
        b.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let v = http(self.port, method, &path, body.as_ref())
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        v["value"].clone()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        let v = self.call("POST", "/url", Some(json!({ "url": url })));
        assert!(v.get("error").is_none(), "navigate to {url}: {v}");
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The text of the first element matching `css`, or `None`.
    pub fn text(&self, css: &str) -> Option<String> {
        let v = self.eval(&format!(
            "const e = document.querySelector({}); return e ? e.textContent : null;",
            json!(css)
        ));
        v.as_str().map(str::to_string)
    }

    /// Waits until `f` finds something (it is called every 100 ms); panics after `timeout`.
    pub fn wait<T>(&self, what: &str, timeout: Duration, f: impl Fn(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "browser: no {what} within {timeout:?}; page text: {}",
                self.text("body").unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `css` the way a person does (WebDriver's element
    /// click: scrolled into view, hit-tested), retrying while the page redraws it.
    pub fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = found[ELEMENT].as_str() {
                let r = self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
                if r.get("error").is_none() {
                    return;
                }
                eprintln!("click {css}: {r}; again");
            }
            assert!(Instant::now() < deadline, "could not click {css}: {found}");
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let v = self.call("GET", "/screenshot", None);
        let png = base64_decode(v.as_str().expect("a base64 screenshot"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("artifact dir");
        }
        std::fs::write(path, png).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Where CI keeps artifacts: `<target dir>/ci-artifacts` (the target dir of this test binary).
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<name>-<hash>
    exe.parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.parent())
        .map(|t| t.join("ci-artifacts"))
        .unwrap_or_else(|| PathBuf::from("target/ci-artifacts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8="), b"hello");
        assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
        assert_eq!(base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
        assert_eq!(base64_decode(""), b"");
    }
}
