//! Datagrams the Python aws-xray-sdk sent (recorded on loopback with `streaming_threshold=0`):
//! two independent subsegments, then their parent segment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use skywatch_collector::{datagram, segment};

fn recorded(n: usize) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/python-sdk-{n}.datagram"));
    std::fs::read(path).unwrap()
}

#[test]
fn the_python_sdks_datagrams_decode_into_one_trace() {
    let docs: Vec<segment::Document> = (0..3)
        .flat_map(|n| segment::parse(datagram::document(&recorded(n)).unwrap()).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    let trace = &docs[0].trace_id;
    assert!(docs.iter().all(|d| &d.trace_id == trace));
    let parent = docs.iter().find(|d| !d.independent_subsegment).unwrap();
    assert_eq!(parent.name, "checkout-api");
    assert_eq!(parent.json["http"]["response"]["status"], 500);
    let subs: Vec<&segment::Document> = docs.iter().filter(|d| d.independent_subsegment).collect();
    assert_eq!(subs.len(), 2);
    assert!(subs
        .iter()
        .all(|s| s.parent_id.as_deref() == Some(parent.id.as_str())));
    let remote = subs.iter().find(|s| s.json["namespace"] == "remote").unwrap();
    assert_eq!(remote.name, "payments.example.com");
    assert_eq!(remote.json["fault"], true, "the 503 is a fault");
    assert!(
        subs.iter().any(|s| s.json["namespace"] == "local"),
        "the SDK's undocumented namespace"
    );
}
