//! The CloudWatch agent's placeholders in log group and stream names (`{instance_id}`,
//! `{hostname}`, `{ip_address}`, `{aws_region}`) and in dimension values (`${aws:InstanceId}`…),
//! filled from the instance's facts or, off EC2, from this host.

use skywatch_aws::InstanceFacts;

/// A log group or stream name with the CloudWatch agent's placeholders replaced:
/// `{instance_id}` (the hostname off EC2), `{hostname}`, `{local_hostname}`, `{aws_region}`
/// (`UNKNOWN-REGION` without one) and `{ip_address}` (the instance's private address, else this
/// host's first non-loopback IPv4 address, else `UNKNOWN-IP`). Characters a name may not hold
/// (`:` and `*`) become `_`.
pub fn resolve_log_name(
    template: &str,
    facts: Option<&InstanceFacts>,
    hostname: &str,
    region: Option<&str>,
) -> String {
    let mut name = template.to_string();
    if name.contains("{aws_region}") {
        let region = facts
            .map(|f| f.region.as_str())
            .or(region)
            .filter(|r| !r.is_empty())
            .unwrap_or("UNKNOWN-REGION");
        name = name.replace("{aws_region}", region);
    }
    if name.contains("{instance_id}") {
        let id = facts.map_or(hostname, |f| f.instance_id.as_str());
        name = name.replace("{instance_id}", id);
    }
    name = name
        .replace("{hostname}", hostname)
        .replace("{local_hostname}", hostname);
    if name.contains("{ip_address}") {
        let ip = facts
            .map(|f| f.private_ip.clone())
            .filter(|ip| !ip.is_empty())
            .or_else(first_ipv4)
            .unwrap_or_else(|| "UNKNOWN-IP".to_string());
        name = name.replace("{ip_address}", &ip);
    }
    name.replace([':', '*'], "_")
}

/// This host's first non-loopback IPv4 address, from the kernel's routing table of local
/// addresses.
fn first_ipv4() -> Option<String> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    local_ipv4_in_fib_trie(&trie)
}

/// The first address `/proc/net/fib_trie` lists as a local host address (`/32 host LOCAL`)
/// outside 127.0.0.0/8.
fn local_ipv4_in_fib_trie(trie: &str) -> Option<String> {
    let mut last = None;
    for line in trie.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ").or_else(|| line.strip_prefix("+-- ")) {
            last = addr.split('/').next().map(str::to_string);
        } else if line.contains("/32 host LOCAL") {
            if let Some(addr) = last.as_deref().filter(|a| !a.starts_with("127.")) {
                return Some(addr.to_string());
            }
        }
    }
    None
}

/// `dimensions` with `${aws:…}` values replaced by this instance's facts. A placeholder without
/// a value (off EC2, or no Auto Scaling group) leaves its dimension out; the names of those are
/// returned too, for the log.
pub fn resolve_placeholders(
    dimensions: &std::collections::BTreeMap<String, String>,
    facts: Option<&InstanceFacts>,
) -> (std::collections::BTreeMap<String, String>, Vec<String>) {
    let mut resolved = std::collections::BTreeMap::new();
    let mut missing = Vec::new();
    for (name, value) in dimensions {
        if !value.starts_with("${aws:") {
            resolved.insert(name.clone(), value.clone());
            continue;
        }
        match facts.and_then(|f| f.placeholder(value)).filter(|v| !v.is_empty()) {
            Some(v) => {
                resolved.insert(name.clone(), v);
            }
            None => missing.push(name.clone()),
        }
    }
    (resolved, missing)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{local_ipv4_in_fib_trie, resolve_log_name, resolve_placeholders, InstanceFacts};

    #[test]
    fn log_names_take_the_instances_values_and_the_hosts_off_ec2() {
        let facts = InstanceFacts {
            instance_id: "i-0abc".into(),
            private_ip: "10.1.2.3".into(),
            ..InstanceFacts::default()
        };
        assert_eq!(
            resolve_log_name(
                "{instance_id}/{hostname}/{ip_address}",
                Some(&facts),
                "web-1",
                None
            ),
            "i-0abc/web-1/10.1.2.3"
        );
        assert_eq!(resolve_log_name("{instance_id}", None, "web-1", None), "web-1");
        assert_eq!(resolve_log_name("a:b*c", None, "h", None), "a_b_c");
        assert_eq!(
            resolve_log_name("{aws_region}", None, "h", Some("eu-west-1")),
            "eu-west-1"
        );
        assert_eq!(
            resolve_log_name("{aws_region}", None, "h", None),
            "UNKNOWN-REGION"
        );
    }

    #[test]
    fn the_first_local_address_in_the_fib_trie_skips_loopback() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 172.17.0.0\n        /16 link UNICAST\n     |-- 172.17.0.2\n        /32 host LOCAL\n";
        assert_eq!(local_ipv4_in_fib_trie(trie).as_deref(), Some("172.17.0.2"));
        assert_eq!(local_ipv4_in_fib_trie("Main:\n"), None);
    }

    #[test]
    fn placeholders_take_the_instances_values_or_leave_the_dimension_out() {
        let facts = InstanceFacts {
            instance_id: "i-1".into(),
            image_id: "ami-1".into(),
            instance_type: "t3.micro".into(),
            region: "eu-west-1".into(),
            ..InstanceFacts::default()
        };
        let dims = BTreeMap::from([
            ("Instance".to_string(), "${aws:InstanceId}".to_string()),
            ("Group".to_string(), "${aws:AutoScalingGroupName}".to_string()),
            ("team".to_string(), "web".to_string()),
        ]);
        let (resolved, missing) = resolve_placeholders(&dims, Some(&facts));
        assert_eq!(
            resolved,
            BTreeMap::from([
                ("Instance".to_string(), "i-1".to_string()),
                ("team".to_string(), "web".to_string())
            ])
        );
        assert_eq!(missing, ["Group"]);
        let (off_ec2, missing) = resolve_placeholders(&dims, None);
        assert_eq!(off_ec2.len(), 1);
        assert_eq!(missing, ["Group", "Instance"]);
    }
}
