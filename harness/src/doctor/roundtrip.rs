//! The round trip: an echo backend runs, a throwaway Gateway with a TCP
//! and a UDP listener gets an address, both carry traffic from here to the
//! echo and back with its identity, and everything is deleted. The same
//! backend (`KubeCluster`/`KubeWorld`) and probes as a run, so what works
//! here works there.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::report::{Check, Report};
use crate::cluster::kube::{KubeCluster, KubeSettings};
use crate::cluster::{Cluster, ObjectKey, World};
use crate::traffic::outcome::Probe;
use crate::traffic::tcp::Tcp;
use crate::traffic::udp::{UdpFlow, UdpOptions};

const ECHO: &str = "echo backend";
const ADDRESS: &str = "Gateway address";
const TCP: &str = "TCP through it";
const UDP: &str = "UDP through it";
const CLEANUP: &str = "cleanup";
/// The round trip's checks, in order.
pub const CHECKS: [&str; 5] = [ECHO, ADDRESS, TCP, UDP, CLEANUP];

/// The listeners' ports in `doctor.yaml`.
const TCP_PORT: u16 = 9300;
const UDP_PORT: u16 = 9301;

/// The doctor's objects for namespace `namespace`.
fn manifests(namespace: &str, echo_image: &str, class: &str) -> Vec<Value> {
    let text = include_str!("doctor.yaml")
        .replace("{NAMESPACE}", namespace)
        .replace("{ECHO_IMAGE}", echo_image)
        .replace("{GATEWAY_CLASS_NAME}", class);
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("doctor.yaml is YAML"))
        .collect()
}

/// Runs the round trip in a namespace of its own, `namespace`; `client`
/// reads Pods for a backend that does not start.
pub async fn round_trip(
    client: &kube::Client,
    settings: KubeSettings,
    echo_image: &str,
    namespace: &str,
    report: &mut Report,
) {
    let local = settings.local_workloads.is_some();
    let timeouts = settings.timeouts.clone();
    let class = settings.gateway_class.clone();
    let cluster = match KubeCluster::with_client(client.clone(), settings).await {
        Ok(c) => c,
        Err(e) => {
            let fix = if local {
                "--workloads local runs the echo replicas in network namespaces: run as root, with iproute2's `ip`"
            } else {
                "see the error"
            };
            report.add(Check::fail(ECHO, e.to_string(), fix));
            skip_rest(report, ECHO, false);
            return;
        }
    };
    let world = match cluster.world("doctor").await {
        Ok(w) => w,
        Err(e) => {
            report.add(Check::fail(ECHO, e.to_string(), "see the error"));
            skip_rest(report, ECHO, false);
            cluster.finish().await;
            return;
        }
    };
    let objects = manifests(namespace, echo_image, &class);
    let (backend, gateway) = objects.split_at(3);

    let begin = tokio::time::Instant::now();
    let echo_ok = match world.apply(backend.to_vec()).await {
        Ok(()) if local => report.add(Check::ok(
            ECHO,
            format!(
                "{namespace}/echo: a replica running in a network namespace (--workloads local), its EndpointSlice written"
            ),
        )),
        Ok(()) => report.add(Check::ok(
            ECHO,
            format!(
                "{namespace}/echo available in {:.1?} ({echo_image})",
                begin.elapsed()
            ),
        )),
        Err(e) => {
            let pods = if local {
                String::new()
            } else {
                pod_problems(client, namespace).await
            };
            report.add(Check::fail(
                ECHO,
                format!("{e}{pods}"),
                format!(
                    "can the cluster pull and run {echo_image}? Build it (`docker build -f echo-server/Dockerfile -t <image> .`), push it where the cluster pulls from, and pass --echo-image <image>"
                ),
            ))
        }
    };
    if echo_ok {
        traffic(&world, gateway, namespace, &timeouts, report).await;
    } else {
        skip_rest(report, ECHO, true);
    }

    let begin = tokio::time::Instant::now();
    world.cleanup().await;
    let left = cluster.finish().await;
    report.add(if left.is_empty() {
        Check::ok(
            CLEANUP,
            format!(
                "namespace {namespace} and everything in it deleted in {:.1?}",
                begin.elapsed()
            ),
        )
    } else {
        Check::fail(
            CLEANUP,
            format!("left behind: {}", left.join("; ")),
            format!(
                "delete it by hand (`kubectl delete namespace {namespace}`) and grant delete (see permissions)"
            ),
        )
    });
}

/// Marks the checks after `failed` as not made (the cleanup is always
/// made, unless `with_cleanup` is false: nothing was created).
fn skip_rest(report: &mut Report, failed: &'static str, with_cleanup: bool) {
    let order = &CHECKS[..4];
    let after = order.iter().position(|n| *n == failed).map_or(0, |i| i + 1);
    for name in &order[after..] {
        report.add(Check::skip(name, &format!("the {failed}")));
    }
    if !with_cleanup {
        report.add(Check::skip(CLEANUP, "nothing was created"));
    }
}

/// Why the echo's pods are not ready, from their container statuses.
async fn pod_problems(client: &kube::Client, namespace: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let Ok(list) = pods
        .list(&ListParams::default().labels("app=gwl4-doctor-echo"))
        .await
    else {
        return String::new();
    };
    let mut seen = Vec::new();
    for pod in list.items {
        let name = pod.metadata.name.unwrap_or_default();
        let status = pod.status.unwrap_or_default();
        let waiting: Vec<String> = status
            .container_statuses
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.state?.waiting)
            .map(|w| {
                format!(
                    "{} {}",
                    w.reason.unwrap_or_default(),
                    w.message.unwrap_or_default()
                )
            })
            .collect();
        let phase = status.phase.unwrap_or_default();
        seen.push(if waiting.is_empty() {
            format!("pod {name} {phase}")
        } else {
            format!("pod {name} {phase}: {}", waiting.join("; "))
        });
    }
    if seen.is_empty() {
        "; no pod was created (is there a ReplicaSet controller, and a quota or admission policy refusing it?)".into()
    } else {
        format!("; {}", seen.join("; "))
    }
}

/// Applies the Gateway and routes, waits for an address, and sends TCP
/// and UDP through it.
async fn traffic(
    world: &crate::cluster::kube::KubeWorld,
    gateway: &[Value],
    namespace: &str,
    timeouts: &crate::settings::timeout::TimeoutConfig,
    report: &mut Report,
) {
    if let Err(e) = world.apply(gateway.to_vec()).await {
        report.add(Check::fail(
            ADDRESS,
            format!("applying the Gateway and routes: {e}"),
            "see the error",
        ));
        skip_rest(report, ADDRESS, true);
        return;
    }
    let key = ObjectKey::new("Gateway", namespace, "doctor");
    let begin = tokio::time::Instant::now();
    let deadline = begin + timeouts.gateway_must_have_address;
    let (ip, gw) = loop {
        let gw = world.get(&key).await.ok().flatten().unwrap_or_default();
        let programmed = crate::cluster::kube::condition_true(&gw, "Programmed");
        match (programmed, address(&gw)) {
            (true, Some(Ok(ip))) => break (ip, gw),
            (_, Some(Err(hostname))) => {
                report.add(Check::fail(
                    ADDRESS,
                    format!("{key} has the hostname {hostname} and no IP address"),
                    "gwl4 sends traffic to an IP address of status.addresses; an implementation that reports only hostnames cannot be tested yet",
                ));
                skip_rest(report, ADDRESS, true);
                return;
            }
            _ if tokio::time::Instant::now() >= deadline => {
                report.add(Check::fail(
                    ADDRESS,
                    format!(
                        "{key} not Programmed with an address after {:?} (GatewayMustHaveAddress); status: {}",
                        timeouts.gateway_must_have_address,
                        serde_json::to_string(gw.get("status").unwrap_or(&Value::Null))
                            .unwrap_or_default()
                    ),
                    "read the implementation's logs: does it program Gateways of this class with TCP and UDP listeners, and can it get an address (a LoadBalancer needs a provider; on kind, cloud-provider-kind)?",
                ));
                skip_rest(report, ADDRESS, true);
                return;
            }
            _ => {
                tokio::time::sleep(
                    timeouts
                        .default_poll_interval
                        .max(Duration::from_millis(250)),
                )
                .await
            }
        }
    };
    report.add(Check::ok(
        ADDRESS,
        format!("{key}: {ip}, Programmed in {:.1?}", begin.elapsed()),
    ));
    let _ = gw;
    let deadline = tokio::time::Instant::now() + timeouts.max_time_to_consistency;
    let request = timeouts.request_timeout;
    let tcp = Tcp {
        connect_timeout: request,
        io_timeout: request,
        settle: None,
    };
    let target = SocketAddr::new(ip, TCP_PORT);
    let direct = world.service_endpoints(namespace, "echo").await;
    let outcome = until_ok(deadline, || tcp.identify(target)).await;
    report.add(judge(TCP, target, outcome, &direct, "TCP").await);
    let target = SocketAddr::new(ip, UDP_PORT);
    let options = UdpOptions {
        timeout: request.min(Duration::from_secs(2)),
        connected: false,
    };
    let outcome = until_ok(deadline, || async move {
        let mut flow = UdpFlow::open(target, options).await?;
        flow.identify().await
    })
    .await;
    report.add(judge(UDP, target, outcome, &direct, "UDP").await);
}

/// The Gateway's first IP address, or the hostname it has instead.
fn address(gw: &Value) -> Option<Result<IpAddr, String>> {
    let addresses = gw.pointer("/status/addresses")?.as_array()?;
    let values: Vec<&str> = addresses
        .iter()
        .filter_map(|a| a["value"].as_str())
        .collect();
    if let Some(ip) = values.iter().find_map(|v| v.parse::<IpAddr>().ok()) {
        return Some(Ok(ip));
    }
    values.first().map(|h| Err((*h).to_string()))
}

/// Probes until one is answered or `deadline` passes (routes take time to
/// be programmed); returns the last probe and how many were sent.
async fn until_ok<F, Fut>(
    deadline: tokio::time::Instant,
    mut probe: F,
) -> (Result<Probe, String>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe, crate::traffic::outcome::Error>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let result = probe().await.map_err(|e| e.to_string());
        let done = matches!(&result, Ok(p) if p.is_ok());
        if done || tokio::time::Instant::now() >= deadline {
            return (result, tries);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The check for one protocol's traffic: the echo's identity back, or
/// what happened and whether the backend answers when reached directly.
async fn judge(
    name: &'static str,
    target: SocketAddr,
    (result, tries): (Result<Probe, String>, u32),
    direct: &[SocketAddr],
    protocol: &str,
) -> Check {
    match result {
        Ok(p) if p.is_ok() => Check::ok(
            name,
            format!(
                "{target} answered by {} ({tries} tr{})",
                p.backend().map(|b| b.to_string()).unwrap_or_default(),
                if tries == 1 { "y" } else { "ies" }
            ),
        ),
        other => {
            let what = match other {
                Ok(p) => format!("{}: {}", p.outcome.as_str(), p.evidence.detail),
                Err(e) => e,
            };
            let backend = match direct.first() {
                Some(d) if protocol == "TCP" => match Tcp::default().identify(*d).await {
                    Ok(p) if p.is_ok() => format!(
                        "; the backend answers when reached directly at {d}: the gateway, or the network between here and it, is at fault"
                    ),
                    _ => format!("; the backend does not answer directly at {d} either"),
                },
                _ => String::new(),
            };
            Check::fail(
                name,
                format!("{target}: no echo after {tries} tries; last: {what}{backend}"),
                "can this machine reach the Gateway's address? Where it cannot (a private cluster), run gwl4 inside the cluster (manifests/gwl4-job/); otherwise read the implementation's logs and the routes' status",
            )
        }
    }
}
