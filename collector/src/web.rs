//! The local web page (`GET /`): its static assets, embedded in the binary and served from exact
//! routes under `/ui/`. The page reads the X-Ray API's read operations and the `/ui/api/*`
//! endpoints of `web_api` with `fetch`; nothing here touches trace data.
//!
//! Design decision: plain ES modules and SVG with no build step, so what is served is what is in
//! `collector/web/` and a reviewer reads the page's code as it runs. Trace and log data is
//! attacker-controlled; the page only ever sets it as text or attributes, and the
//! Content-Security-Policy below forbids inline script, inline style, plugins, framing and every
//! origin but this one, so a rendering mistake cannot become script execution.

use skywatch_http::{respond, Method, Response, Router, StatusCode};

/// Only same-origin modules, styles, images (and `data:` images) and fetches; no inline script or
/// style, no `<base>`, no forms, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/ui/`, its content type, its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../web/", $name)),
        }
    };
}

/// Every file of `collector/web/` (a test checks none is missing).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("LICENSES.md", "text/markdown; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("format.js", "text/javascript; charset=utf-8"),
    asset!("layout.js", "text/javascript; charset=utf-8"),
    asset!("map.js", "text/javascript; charset=utf-8"),
    asset!("histogram.js", "text/javascript; charset=utf-8"),
    asset!("traces.js", "text/javascript; charset=utf-8"),
    asset!("charts.js", "text/javascript; charset=utf-8"),
    asset!("timeline.js", "text/javascript; charset=utf-8"),
    asset!("logs.js", "text/javascript; charset=utf-8"),
];

/// `body` with the page's security and caching headers.
fn page_response(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = respond(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        // Revalidate every time: a new binary serves new assets under the same names.
        ("cache-control", "no-cache"),
    ] {
        // Constant, valid header values: parsing cannot fail.
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

/// Adds `GET /` (the page) and `GET /ui/<file>` for each embedded file.
pub fn add(mut router: Router) -> Router {
    for asset in ASSETS {
        let (content_type, body) = (asset.content_type, asset.body);
        router = router.route(Method::GET, &format!("/ui/{}", asset.name), move |_| async move {
            page_response(content_type, body)
        });
        if asset.name == "index.html" {
            router = router.route(Method::GET, "/", move |_| async move {
                page_response(content_type, body)
            });
        }
    }
    router
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use bytes::Bytes;
    use http_body_util::BodyExt as _;
    use skywatch_http::{HeaderMap, Method, Request, Router, StatusCode};

    use super::{add, ASSETS, CONTENT_SECURITY_POLICY};

    const JS: &str = "text/javascript; charset=utf-8";

    fn router() -> Router {
        add(Router::new(skywatch_telemetry::Registry::new()))
    }

    fn get(path: &str) -> Request {
        Request {
            method: Method::GET,
            path: path.into(),
            query: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Whether a file name is a module's (all ours are lower-case `.js`).
    fn is_script(name: &str) -> bool {
        std::path::Path::new(name).extension().is_some_and(|e| e == "js")
    }

    fn text(name: &str) -> &'static str {
        let asset = ASSETS.iter().find(|a| a.name == name).unwrap();
        std::str::from_utf8(asset.body).unwrap()
    }

    /// The values of `attribute="..."` in `html`.
    fn attribute_values<'h>(html: &'h str, attribute: &str) -> Vec<&'h str> {
        let needle = format!(" {attribute}=\"");
        html.match_indices(&needle)
            .filter_map(|(at, _)| {
                let rest = &html[at + needle.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    /// The relative module specifiers a script imports (`from './x.js'`).
    fn imports(script: &str) -> Vec<&str> {
        script
            .match_indices("from './")
            .filter_map(|(at, _)| {
                let rest = &script[at + "from './".len()..];
                rest.find('\'').map(|end| &rest[..end])
            })
            .collect()
    }

    #[tokio::test]
    async fn every_asset_the_page_references_is_served_with_the_csp() {
        let router = router();
        let index = text("index.html");
        let mut referenced: BTreeSet<String> = ["/".to_string()].into();
        for value in attribute_values(index, "src")
            .into_iter()
            .chain(attribute_values(index, "href"))
        {
            assert!(
                value.starts_with("/ui/"),
                "index.html references {value} outside /ui/"
            );
            referenced.insert(value.to_string());
        }
        // Modules the scripts import, relative to /ui/.
        for asset in ASSETS.iter().filter(|a| is_script(a.name)) {
            for module in imports(text(asset.name)) {
                referenced.insert(format!("/ui/{module}"));
            }
        }
        assert!(referenced.contains("/ui/app.js"), "{referenced:?}");
        assert!(referenced.len() > ASSETS.len() - 2, "{referenced:?}");
        for path in &referenced {
            let response = router.handle(get(path)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert_eq!(
                headers["content-security-policy"], CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["referrer-policy"], "no-referrer");
            assert_eq!(headers["cache-control"], "no-cache");
            if is_script(path) {
                assert_eq!(headers["content-type"], JS, "{path}");
            }
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(!body.is_empty(), "{path}");
        }
        let page = router.handle(get("/")).await;
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert_eq!(
            router.handle(get("/ui/nope.js")).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn every_file_of_the_web_directory_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
        let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let embedded: BTreeSet<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
        assert_eq!(on_disk, embedded);
        for asset in ASSETS.iter().filter(|a| is_script(a.name)) {
            assert_eq!(asset.content_type, JS, "{}", asset.name);
        }
    }

    #[test]
    fn no_script_writes_html() {
        let forbidden = [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ];
        for asset in ASSETS.iter().filter(|a| is_script(a.name)) {
            let script = text(asset.name);
            for word in forbidden {
                assert!(!script.contains(word), "{} uses {word}", asset.name);
            }
        }
        // Nor does the page carry inline script or style the CSP would refuse anyway.
        let index = text("index.html");
        assert!(!index.contains("<script>") && !index.contains(" style=") && !index.contains("<style"));
    }
}
