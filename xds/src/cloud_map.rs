//! AWS Cloud Map instances, as the operator lists them now that Cloud Map is gone.
//!
//! App Mesh asked Cloud Map (`DiscoverInstances`) for the instances of a virtual node's
//! `awsCloudMap` service, kept those carrying every attribute the node lists, and sent each
//! instance's address, with the node listener's port, as an endpoint over EDS. Here the
//! instances come from a file in the shape of `aws servicediscovery discover-instances`
//! output, `{"Instances": [...]}`, so a saved answer of the real service can be used as is
//! (several answers concatenated into one list). [`CloudMap::parse`] checks it and names
//! the member at fault; [`CloudMap::discover`] answers as `DiscoverInstances` did.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use appmesh_model::common::IpPreference;
use serde::Deserialize;

/// The attribute holding an instance's IPv4 address.
pub const IPV4: &str = "AWS_INSTANCE_IPV4";
/// The attribute holding an instance's IPv6 address.
pub const IPV6: &str = "AWS_INSTANCE_IPV6";

/// Every known instance, by namespace and service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloudMap {
    services: BTreeMap<(String, String), Vec<Instance>>,
}

/// One registered instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// `InstanceId`.
    pub id: String,
    /// `AWS_INSTANCE_IPV4`, if set.
    pub ipv4: Option<Ipv4Addr>,
    /// `AWS_INSTANCE_IPV6`, if set.
    pub ipv6: Option<Ipv6Addr>,
    /// Every attribute, the two addresses included.
    pub attributes: BTreeMap<String, String>,
    /// `HealthStatus` is `UNHEALTHY`.
    pub unhealthy: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct File {
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInstance {
    instance_id: String,
    namespace_name: String,
    service_name: String,
    #[serde(default)]
    health_status: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

impl CloudMap {
    /// Reads `{"Instances": [{"InstanceId", "NamespaceName", "ServiceName", "HealthStatus",
    /// "Attributes"}, ...]}`. Other members (such as `InstancesRevision`) are ignored. An
    /// error names the member at fault, as in `Instances[2].Attributes.AWS_INSTANCE_IPV4`.
    pub fn parse(text: &str) -> Result<CloudMap, String> {
        let file: File = serde_json::from_str(text).map_err(|e| {
            format!("{e} (expected {{\"Instances\": [{{\"InstanceId\", \"NamespaceName\", \"ServiceName\", \"Attributes\"}}]}}, as discover-instances prints it)")
        })?;
        let mut services: BTreeMap<(String, String), Vec<Instance>> = BTreeMap::new();
        for (i, raw) in file.instances.into_iter().enumerate() {
            let at = |member: &str| format!("Instances[{i}].{member}");
            for (member, value) in [
                ("InstanceId", &raw.instance_id),
                ("NamespaceName", &raw.namespace_name),
                ("ServiceName", &raw.service_name),
            ] {
                if value.is_empty() {
                    return Err(format!("{}: must not be empty", at(member)));
                }
            }
            let unhealthy = match raw.health_status.as_deref() {
                None | Some("HEALTHY") | Some("UNKNOWN") => false,
                Some("UNHEALTHY") => true,
                Some(other) => {
                    return Err(format!(
                        "{}: {other:?} is not HEALTHY, UNHEALTHY or UNKNOWN",
                        at("HealthStatus")
                    ))
                }
            };
            fn ip<A: std::str::FromStr>(
                raw: &RawInstance,
                name: &str,
                family: &str,
                at: &dyn Fn(&str) -> String,
            ) -> Result<Option<A>, String> {
                raw.attributes
                    .get(name)
                    .map(|a| {
                        a.parse::<A>().map_err(|_| {
                            format!(
                                "{}: {a:?} is not an {family} address",
                                at(&format!("Attributes.{name}"))
                            )
                        })
                    })
                    .transpose()
            }
            let ipv4: Option<Ipv4Addr> = ip(&raw, IPV4, "IPv4", &at)?;
            let ipv6: Option<Ipv6Addr> = ip(&raw, IPV6, "IPv6", &at)?;
            if ipv4.is_none() && ipv6.is_none() {
                return Err(format!(
                    "{}: needs {IPV4} or {IPV6}, the address Envoy connects to (with the virtual node listener's port)",
                    at("Attributes")
                ));
            }
            let list = services
                .entry((raw.namespace_name, raw.service_name))
                .or_default();
            if list.iter().any(|x| x.id == raw.instance_id) {
                return Err(format!(
                    "{}: {:?} is listed twice for this namespace and service",
                    at("InstanceId"),
                    raw.instance_id
                ));
            }
            list.push(Instance {
                id: raw.instance_id,
                ipv4,
                ipv6,
                attributes: raw.attributes,
                unhealthy,
            });
        }
        for list in services.values_mut() {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(CloudMap { services })
    }

    /// The instances of `service` in `namespace` that are not unhealthy and carry every
    /// `(key, value)` of `attributes`, in instance-id order.
    pub fn discover<'a>(
        &'a self,
        namespace: &str,
        service: &str,
        attributes: &'a [(String, String)],
    ) -> impl Iterator<Item = &'a Instance> + 'a {
        self.services
            .get(&(namespace.to_owned(), service.to_owned()))
            .into_iter()
            .flatten()
            .filter(move |i| {
                !i.unhealthy
                    && attributes
                        .iter()
                        .all(|(k, v)| i.attributes.get(k) == Some(v))
            })
    }

    /// How many instances are known, in all.
    pub fn len(&self) -> usize {
        self.services.values().map(Vec::len).sum()
    }

    /// No instance is known.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

impl Instance {
    /// The address Envoy connects to under `preference` (the node's, else the mesh's;
    /// IPv4 preferred when neither says): `None` when the instance has no address of an
    /// allowed family.
    pub fn address(&self, preference: Option<IpPreference>) -> Option<String> {
        let v4 = self.ipv4.map(|a| a.to_string());
        let v6 = self.ipv6.map(|a| a.to_string());
        match preference {
            None | Some(IpPreference::Ipv4Preferred) => v4.or(v6),
            Some(IpPreference::Ipv6Preferred) => v6.or(v4),
            Some(IpPreference::Ipv4Only) => v4,
            Some(IpPreference::Ipv6Only) => v6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"Instances": [
        {"InstanceId": "b-2", "NamespaceName": "apps.local", "ServiceName": "serviceb",
         "HealthStatus": "HEALTHY", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.2", "version": "v2"}},
        {"InstanceId": "b-1", "NamespaceName": "apps.local", "ServiceName": "serviceb",
         "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.1", "AWS_INSTANCE_IPV6": "fd00::1", "version": "v1"}},
        {"InstanceId": "b-3", "NamespaceName": "apps.local", "ServiceName": "serviceb",
         "HealthStatus": "UNHEALTHY", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.3", "version": "v1"}},
        {"InstanceId": "c-1", "NamespaceName": "apps.local", "ServiceName": "servicec",
         "Attributes": {"AWS_INSTANCE_IPV6": "fd00::c"}}
    ], "InstancesRevision": 7}"#;

    fn ids<'a>(found: impl Iterator<Item = &'a Instance>) -> Vec<&'a str> {
        found.map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn discovers_healthy_instances_with_every_attribute_in_id_order() {
        let map = CloudMap::parse(FILE).unwrap_or_default();
        assert_eq!(map.len(), 4);
        assert_eq!(
            ids(map.discover("apps.local", "serviceb", &[])),
            ["b-1", "b-2"]
        );
        let v1 = [("version".to_owned(), "v1".to_owned())];
        assert_eq!(ids(map.discover("apps.local", "serviceb", &v1)), ["b-1"]);
        assert!(ids(map.discover("apps.local", "nothing", &[])).is_empty());
        assert!(ids(map.discover("other", "serviceb", &[])).is_empty());
    }

    #[test]
    fn addresses_follow_the_ip_preference() {
        let map = CloudMap::parse(FILE).unwrap_or_default();
        let b1 = map.discover("apps.local", "serviceb", &[]).next().cloned();
        let c1 = map.discover("apps.local", "servicec", &[]).next().cloned();
        let (Some(b1), Some(c1)) = (b1, c1) else {
            panic!("both instances are found");
        };
        assert_eq!(b1.address(None).as_deref(), Some("10.0.0.1"));
        assert_eq!(
            b1.address(Some(IpPreference::Ipv6Preferred)).as_deref(),
            Some("fd00::1")
        );
        assert_eq!(
            b1.address(Some(IpPreference::Ipv6Only)).as_deref(),
            Some("fd00::1")
        );
        assert_eq!(c1.address(None).as_deref(), Some("fd00::c"));
        assert_eq!(c1.address(Some(IpPreference::Ipv4Only)), None);
    }

    #[test]
    fn errors_name_the_member_at_fault() {
        let one = |attributes: &str, extra: &str| {
            CloudMap::parse(&format!(
                r#"{{"Instances": [{{"InstanceId": "i", "NamespaceName": "n", "ServiceName": "s", "Attributes": {attributes}{extra}}}]}}"#
            ))
            .err()
            .unwrap_or_default()
        };
        assert_eq!(
            one(r#"{"AWS_INSTANCE_IPV4": "10.0.0"}"#, ""),
            r#"Instances[0].Attributes.AWS_INSTANCE_IPV4: "10.0.0" is not an IPv4 address"#
        );
        assert!(one("{}", "").starts_with("Instances[0].Attributes: needs AWS_INSTANCE_IPV4"));
        assert_eq!(
            one(
                r#"{"AWS_INSTANCE_IPV4": "10.0.0.1"}"#,
                r#", "HealthStatus": "SICK""#
            ),
            r#"Instances[0].HealthStatus: "SICK" is not HEALTHY, UNHEALTHY or UNKNOWN"#
        );
        let twice = CloudMap::parse(
            r#"{"Instances": [
            {"InstanceId": "i", "NamespaceName": "n", "ServiceName": "s", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.1"}},
            {"InstanceId": "i", "NamespaceName": "n", "ServiceName": "s", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.0.2"}}]}"#,
        );
        assert_eq!(
            twice.err().as_deref(),
            Some(r#"Instances[1].InstanceId: "i" is listed twice for this namespace and service"#)
        );
        assert!(CloudMap::parse(r#"{"instances": []}"#)
            .err()
            .unwrap_or_default()
            .contains("missing field `Instances`"));
    }
}
