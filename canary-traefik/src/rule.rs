//! Traefik rules: everything this crate reads out of a rule or builds around one. The spec
//! passes rules through as the user wrote them; this module refuses what cannot be right, wraps
//! them (the header router), ranks them (priorities) and reads the host and path a client would
//! send (probes).

use canary_core::spec::HeaderRoute;
use canary_core::{CookieName, CookieValue, Error, HeaderName, Result, RuleRegex, RuleValue};

use crate::provider::ProviderVersion;

/// Refuses a rule that cannot be right or could change meaning once wrapped in
/// ``(<rule>) && Header(…)``: control characters, an unclosed backtick- or double-quoted value,
/// unbalanced parentheses outside values, and backslashes or single quotes outside backtick values.
pub(crate) fn check_rule(rule: &str) -> Result<()> {
    let bad = |why: String| Err(Error::invalid("rule", format!("{rule:?} {why}")));
    if rule.trim().is_empty() {
        return bad("is empty".into());
    }
    if rule.len() > 4096 {
        return bad("is longer than 4096 characters".into());
    }
    if let Some(c) = rule.chars().find(|c| c.is_control()) {
        return bad(format!("has the control character {c:?}"));
    }
    #[derive(PartialEq)]
    enum In {
        Rule,
        Backticks,
        Quotes,
    }
    let mut at = In::Rule;
    let mut depth = 0i64;
    for c in rule.chars() {
        match (&at, c) {
            (In::Rule, '`') => at = In::Backticks,
            (In::Backticks, '`') => at = In::Rule,
            (In::Rule, '"') => at = In::Quotes,
            (In::Quotes, '"') => at = In::Rule,
            (In::Rule, '(') => depth += 1,
            (In::Rule, ')') => {
                depth -= 1;
                if depth < 0 {
                    return bad("closes a parenthesis it never opened".into());
                }
            }
            (In::Rule | In::Quotes, '\\' | '\'') => {
                return bad(format!("has {c:?} outside a backtick-quoted value"));
            }
            _ => {}
        }
    }
    if at != In::Rule {
        return bad("has an unclosed quoted value".into());
    }
    if depth != 0 {
        return bad("has unbalanced parentheses".into());
    }
    Ok(())
}

/// The header router's rule: ``(<rule>) && <match>``, where the match is
/// ``Header(`name`, `value`)``, ``HeaderRegexp(`name`, `regex`)``, or for a cookie
/// ``HeaderRegexp(`Cookie`, `(^|;\s*)name=value(;|$)`)`` with name and value escaped (v2 spells
/// them `Headers`, `HeadersRegexp`). Every part is validated again: a backtick is refused, never
/// escaped.
pub(crate) fn header_rule(
    rule: &str,
    route: &HeaderRoute,
    version: ProviderVersion,
) -> Result<String> {
    check_rule(rule)?;
    let (matcher, name, value) = match route {
        HeaderRoute::Exact { name, value } => {
            let name = HeaderName::parse(name.as_str())
                .map_err(|e| Error::invalid("headerRoute.name", e.to_string()))?;
            let value = RuleValue::parse(value.as_str())
                .map_err(|e| Error::invalid("headerRoute.value", e.to_string()))?;
            (
                version.header_matcher(),
                name.to_string(),
                value.to_string(),
            )
        }
        HeaderRoute::Regex { name, regex, .. } => {
            let name = HeaderName::parse(name.as_str())
                .map_err(|e| Error::invalid("headerRoute.name", e.to_string()))?;
            let regex = RuleRegex::parse(regex.as_str())
                .map_err(|e| Error::invalid("headerRoute.regex", e.to_string()))?;
            (
                version.header_regexp_matcher(),
                name.to_string(),
                regex.to_string(),
            )
        }
        HeaderRoute::Cookie { cookie, value } => {
            let cookie = CookieName::parse(cookie.as_str())
                .map_err(|e| Error::invalid("headerRoute.cookie", e.to_string()))?;
            let value = CookieValue::parse(value.as_str())
                .map_err(|e| Error::invalid("headerRoute.value", e.to_string()))?;
            let pair = format!(
                r"(^|;\s*){}={}(;|$)",
                regex_escape(cookie.as_str()),
                regex_escape(value.as_str())
            );
            (version.header_regexp_matcher(), "Cookie".to_string(), pair)
        }
        _ => {
            return Err(Error::invalid(
                "headerRoute",
                "this kind of header route is newer than the Traefik router",
            ))
        }
    };
    Ok(format!("({rule}) && {matcher}(`{name}`, `{value}`)"))
}

/// `s` with every character Go's regexp treats specially escaped (`regexp.QuoteMeta`).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Priority of the app routers: far above label routers (default priority = rule length, which no
/// real rule reaches) and above hand-written priorities such as 1000. The app's rule length is added
/// twice so a more specific canary rule still beats a shorter one of another group, and the header
/// router (one above its app router) never beats a more specific app's router.
pub(crate) const PRIORITY_BASE: u64 = 1_000_000;

/// The priority of an app router.
pub(crate) fn app_priority(rule: &str) -> u64 {
    PRIORITY_BASE + 2 * rule.len() as u64
}

/// The first argument of `matcher(`…`)` in a Traefik rule.
pub(crate) fn rule_arg<'a>(rule: &'a str, matcher: &str) -> Option<&'a str> {
    let mut rest = rule;
    while let Some(i) = rest.find(matcher) {
        let before = rest[..i].chars().last();
        let after = &rest[i + matcher.len()..];
        // `Host(` must not match inside `HostRegexp(` or `XHost(`.
        if before.is_none_or(|c| !c.is_ascii_alphanumeric()) {
            if let Some(arg) = after.trim_start().strip_prefix('(').map(str::trim_start) {
                let quote = arg.chars().next()?;
                if matches!(quote, '`' | '"' | '\'') {
                    let body = &arg[1..];
                    return body.find(quote).map(|end| &body[..end]);
                }
            }
        }
        rest = after;
    }
    None
}

/// The path a probe requests: `healthPath` when it is under the rule's path prefix, else the prefix
/// followed by it (`PathPrefix(/api)` + `/health` = `/api/health`).
pub(crate) fn probe_path(rule: &str, health_path: &str) -> String {
    let prefix = rule_arg(rule, "PathPrefix").or_else(|| rule_arg(rule, "Path"));
    match prefix {
        Some(p) if !health_path.starts_with(p) => {
            format!("{}{health_path}", p.trim_end_matches('/'))
        }
        _ => health_path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_give_host_and_path() {
        let r = "Host(`api.localhost`) && PathPrefix(`/gcp`)";
        assert_eq!(rule_arg(r, "Host"), Some("api.localhost"));
        assert_eq!(rule_arg(r, "PathPrefix"), Some("/gcp"));
        assert_eq!(probe_path(r, "/gcp/api/health"), "/gcp/api/health");
        assert_eq!(probe_path(r, "/health"), "/gcp/health");
        assert_eq!(probe_path("Host(`a`)", "/health"), "/health");
        assert_eq!(
            rule_arg("HostRegexp(`x`) || Host(\"b\")", "Host"),
            Some("b")
        );
        assert_eq!(rule_arg("PathPrefix(`/api/`)", "Path"), None);
        assert_eq!(probe_path("PathPrefix(`/api/`)", "/health"), "/api/health");
    }

    #[test]
    fn header_rules_of_each_form() {
        let load = |y: &str| canary_core::yaml::from_str::<HeaderRoute>(y).unwrap();
        let v3 = ProviderVersion::V3;
        assert_eq!(
            header_rule("Host(`a`)", &HeaderRoute::default(), v3).unwrap(),
            "(Host(`a`)) && Header(`X-Canary`, `true`)"
        );
        assert_eq!(
            header_rule("Host(`a`)", &load("{name: X-User, regex: '^(a|b)$'}"), v3).unwrap(),
            "(Host(`a`)) && HeaderRegexp(`X-User`, `^(a|b)$`)"
        );
        assert_eq!(
            header_rule(
                "Host(`a`)",
                &load("{cookie: canary.v, value: a+b}"),
                ProviderVersion::V2
            )
            .unwrap(),
            r"(Host(`a`)) && HeadersRegexp(`Cookie`, `(^|;\s*)canary\.v=a\+b(;|$)`)"
        );
    }
}
