//! Local mode: no Kubernetes. gwl4 plays the API server and the kubelet.
//!
//! Each test gets its own world: a directory with the gateway's config and
//! status dirs, its own gateway process bound to its own loopback address,
//! and echo processes for its Deployments. The gateway speaks the
//! standalone contract (README, "The local gateway contract"): it reads every `*.yaml`
//! in the config dir and writes each object's status to
//! `<status-dir>/<Kind>/<namespace>/<name>.yaml`.

pub mod addresses;
pub mod netns;
pub mod process;
pub mod status_file;
pub mod store;
pub mod validate;
pub mod workloads;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use self::addresses::AddressPool;
use self::process::Process;
use self::store::Store;
use self::workloads::{EchoLauncher, Hosts, Workloads};
use super::{Cluster, ClusterError, ObjectKey, World};
use crate::settings::timeout::TimeoutConfig;

/// Kinds written to the gateway's config dir.
const GATEWAY_INPUTS: &[&str] = &[
    "GatewayClass",
    "Gateway",
    "TCPRoute",
    "UDPRoute",
    "ReferenceGrant",
    "Namespace",
    "Service",
    "EndpointSlice",
];

/// How many times a status file that does not parse is read before the
/// problem is reported, and the pause between reads.
const STATUS_READ_TRIES: u32 = 4;
const STATUS_REREAD_GAP: Duration = Duration::from_millis(25);

/// Port of the reference gateway's admin API on each test's gateway address.
pub const ADMIN_PORT: u16 = 19000;

/// How local mode runs.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// The gwl4 binary: `gwl4 echo-server` and, by default, `gwl4 reference-gateway standalone`.
    pub gwl4: PathBuf,
    /// A standalone-contract gateway to test instead of the reference
    /// gateway: program and leading arguments.
    pub gateway_command: Option<Vec<String>>,
    /// The GatewayClass name manifests refer to.
    pub gateway_class: String,
    /// The controllerName written into that GatewayClass.
    pub controller_name: String,
    /// Image name that marks echo Deployments.
    pub echo_image: String,
    /// Where worlds are created.
    pub run_dir: PathBuf,
    /// Keep each world's directory (logs, config, status) after the test.
    pub keep: bool,
    /// Timeouts.
    pub timeouts: TimeoutConfig,
}

/// The local backend.
#[derive(Debug)]
pub struct LocalCluster {
    settings: Arc<LocalSettings>,
    gateways: Arc<AddressPool>,
    backends: Arc<AddressPool>,
    _block: addresses::Block,
}

impl LocalCluster {
    /// A backend creating worlds under `settings.run_dir`.
    pub fn new(settings: LocalSettings) -> Result<LocalCluster, ClusterError> {
        std::fs::create_dir_all(&settings.run_dir)
            .map_err(|source| io(&settings.run_dir, source))?;
        let block = addresses::claim_block();
        Ok(LocalCluster {
            settings: Arc::new(settings),
            gateways: Arc::new(AddressPool::gateways(block.n)),
            backends: Arc::new(AddressPool::backends(block.n)),
            _block: block,
        })
    }

    /// Settings in force.
    pub fn settings(&self) -> &LocalSettings {
        &self.settings
    }
}

impl Cluster for LocalCluster {
    type World = LocalWorld;

    async fn class_features(
        &self,
        class: &str,
        timeout: Duration,
    ) -> Result<Option<Vec<String>>, ClusterError> {
        // The contract has no class outside a world: start a gateway for it.
        let world = self.world("gatewayclass-features").await?;
        let key = ObjectKey::new("GatewayClass", "", class);
        let deadline = tokio::time::Instant::now() + timeout;
        let result = loop {
            if let Ok(Some(obj)) = world.get(&key).await
                && let Some(list) = obj
                    .pointer("/status/supportedFeatures")
                    .and_then(Value::as_array)
            {
                let names = list
                    .iter()
                    .filter_map(|f| f.get("name").unwrap_or(f).as_str().map(str::to_string))
                    .collect();
                break Ok(Some(names));
            }
            if tokio::time::Instant::now() >= deadline {
                break Err(ClusterError::Setup(format!(
                    "GatewayClass {class} has no status.supportedFeatures after {timeout:?}; pass --supported-features or --conformance-profiles\n{}",
                    world.diagnostics()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        world.cleanup().await;
        result
    }

    async fn world(&self, name: &str) -> Result<LocalWorld, ClusterError> {
        let address = self
            .gateways
            .allocate()
            .ok_or_else(|| ClusterError::Setup("no free gateway loopback address".into()))?;
        let dir = self.settings.run_dir.join(name);
        let config_dir = dir.join("config");
        let status_dir = dir.join("status");
        for d in [&config_dir, &status_dir] {
            std::fs::create_dir_all(d).map_err(|source| io(d, source))?;
        }
        let status_changed = Arc::new(tokio::sync::Notify::new());
        let world = LocalWorld {
            _status_watch: watch_status(&status_dir, status_changed.clone()),
            status_changed,
            settings: self.settings.clone(),
            dir,
            config_dir,
            status_dir,
            address,
            store: Mutex::new(Store::default()),
            workloads: tokio::sync::Mutex::new(Workloads::default()),
            gateway: Mutex::new(None),
            gateways: self.gateways.clone(),
            backends: self.backends.clone(),
        };
        let class = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": self.settings.gateway_class},
            "spec": {"controllerName": self.settings.controller_name},
        });
        let started = async {
            world.apply(vec![class]).await?;
            world.start_gateway().await
        }
        .await;
        if let Err(e) = started {
            // A gateway that exits at start leaves no directory, address or
            // backend behind either.
            world.cleanup().await;
            return Err(e);
        }
        Ok(world)
    }
}

/// One test's world in local mode.
#[derive(Debug)]
pub struct LocalWorld {
    settings: Arc<LocalSettings>,
    dir: PathBuf,
    config_dir: PathBuf,
    status_dir: PathBuf,
    address: Ipv4Addr,
    store: Mutex<Store>,
    workloads: tokio::sync::Mutex<Workloads>,
    gateway: Mutex<Option<Process>>,
    gateways: Arc<AddressPool>,
    backends: Arc<AddressPool>,
    /// Woken by writes under the status dir (see [`World::changed`]).
    status_changed: Arc<tokio::sync::Notify>,
    _status_watch: Option<notify::RecommendedWatcher>,
}

/// Watches `dir` (recursively) and wakes `notify` on every event. None if
/// the watch cannot be set up: waits then fall back to polling.
fn watch_status(
    dir: &Path,
    notify: Arc<tokio::sync::Notify>,
) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        // A stored permit covers a write between a read and the next wait.
        notify.notify_one();
    })
    .ok()?;
    notify::Watcher::watch(&mut watcher, dir, notify::RecursiveMode::Recursive).ok()?;
    Some(watcher)
}

impl LocalWorld {
    /// The address the gateway binds (`--bind-address`).
    pub fn gateway_address(&self) -> Ipv4Addr {
        self.address
    }

    /// The world's directory (logs, config, status).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The reference gateway's admin API, when that is what runs.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.settings
            .gateway_command
            .is_none()
            .then(|| SocketAddr::new(IpAddr::V4(self.address), ADMIN_PORT))
    }

    async fn start_gateway(&self) -> Result<(), ClusterError> {
        let (program, mut args) = match &self.settings.gateway_command {
            Some(cmd) => (PathBuf::from(&cmd[0]), cmd[1..].to_vec()),
            None => (
                self.settings.gwl4.clone(),
                vec!["reference-gateway".into(), "standalone".into()],
            ),
        };
        args.extend([
            "--config-dir".into(),
            self.config_dir.display().to_string(),
            "--status-dir".into(),
            self.status_dir.display().to_string(),
            "--bind-address".into(),
            self.address.to_string(),
        ]);
        if let Some(admin) = self.admin_address() {
            args.extend(["--admin-address".into(), admin.to_string()]);
        }
        let log = self.dir.join("gateway.log");
        let mut gw = Process::spawn("gateway", &program, &args, &[], log, "\u{0}never")
            .await
            .map_err(|e| ClusterError::Setup(e.to_string()))?;
        // The contract has no ready signal: wait briefly for the class status
        // (or an early exit), then let the steps' polls do the waiting.
        let class_status = self.status_path(&ObjectKey::new(
            "GatewayClass",
            "",
            &self.settings.gateway_class,
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline && !class_status.exists() {
            if !gw.is_running() {
                return Err(ClusterError::Setup(format!(
                    "the gateway exited at start ({} {}); its log:\n{}",
                    program.display(),
                    args.join(" "),
                    gw.log_tail(30)
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(admin) = self.admin_address() {
            // Ready means its first config is applied.
            let url = format!("http://{admin}/readyz");
            while crate::run::gateway_metrics::fetch(&url).await.is_none() {
                if tokio::time::Instant::now() >= deadline || !gw.is_running() {
                    return Err(ClusterError::Setup(format!(
                        "the gateway's admin API {url} did not become ready; its log:\n{}",
                        gw.log_tail(30)
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        *self.gateway.lock().unwrap_or_else(|e| e.into_inner()) = Some(gw);
        Ok(())
    }

    /// The status the gateway wrote for `key`. A file that does not parse
    /// is read again a few times first: a gateway that rewrites it in place
    /// (against the contract) is caught half way now and then, and one torn
    /// read must not fail a step.
    async fn read_status(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let path = self.status_path(key);
        let mut tries = 1;
        loop {
            match status_file::read(&path, key) {
                Ok(status) => return Ok(status),
                Err(status_file::StatusFileError::Bad(_)) if tries < STATUS_READ_TRIES => {
                    tries += 1;
                    tokio::time::sleep(STATUS_REREAD_GAP).await;
                }
                Err(e @ status_file::StatusFileError::Bad(_)) => {
                    return Err(ClusterError::Setup(format!(
                        "{e} (read {tries} times, {STATUS_REREAD_GAP:?} apart)"
                    )));
                }
                Err(e) => return Err(ClusterError::Setup(e.to_string())),
            }
        }
    }

    fn status_path(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.status_dir.join(&key.kind);
        if !key.namespace.is_empty() {
            p = p.join(&key.namespace);
        }
        p.join(format!("{}.yaml", key.name))
    }

    fn config_path(&self, key: &ObjectKey) -> PathBuf {
        let ns = if key.namespace.is_empty() {
            "_cluster"
        } else {
            &key.namespace
        };
        self.config_dir.join(format!(
            "{}.{}.{}.yaml",
            key.kind.to_lowercase(),
            ns,
            key.name
        ))
    }

    /// Brings processes and EndpointSlices in line with the store, then
    /// writes the gateway's config dir.
    async fn sync(&self) -> Result<(), ClusterError> {
        let mut workloads = self.workloads.lock().await;
        let snapshot = self.store.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let launch = EchoLauncher {
            program: &self.settings.gwl4,
            image: &self.settings.echo_image,
            log_dir: &self.dir,
            timeout: self.settings.timeouts.create_timeout,
        };
        let result = workloads
            .reconcile(&snapshot, Hosts::Loopback(&self.backends), &launch)
            .await;
        result?;
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let now = rfc3339_now();
        let managed: Vec<ObjectKey> = store
            .of_kind("EndpointSlice")
            .filter(|(_, v)| {
                v.pointer("/metadata/labels/endpointslice.kubernetes.io~1managed-by")
                    .and_then(Value::as_str)
                    == Some(workloads::MANAGED_BY)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let slices = workloads.endpoint_slices(&store);
        let keep: Vec<ObjectKey> = slices.iter().map(|s| ObjectKey::of(s, "")).collect();
        for key in managed.iter().filter(|k| !keep.contains(k)) {
            let _ = store.delete(key);
        }
        for slice in slices {
            // gwl4's own objects meet the API server's rules too.
            let key = ObjectKey::of(&slice, "");
            validate::object(&slice, "")
                .map_err(|message| ClusterError::Rejected { key, message })?;
            store.apply(slice, "", &now);
        }
        self.write_config(&store)
    }

    /// Mirrors the store's gateway inputs into the config dir, atomically
    /// per file (temp file + rename), removing files of deleted objects.
    fn write_config(&self, store: &Store) -> Result<(), ClusterError> {
        let mut wanted = std::collections::BTreeSet::new();
        for (key, value) in store
            .all()
            .filter(|(k, _)| GATEWAY_INPUTS.contains(&k.kind.as_str()))
        {
            let path = self.config_path(key);
            let mut doc = value.clone();
            if let Some(m) = doc.as_object_mut() {
                m.remove("status");
            }
            let text = serde_yaml::to_string(&doc)
                .map_err(|e| ClusterError::Setup(format!("{key}: {e}")))?;
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                write_atomic(&path, &text)?;
            }
            wanted.insert(path);
        }
        let entries =
            std::fs::read_dir(&self.config_dir).map_err(|source| io(&self.config_dir, source))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml") && !wanted.contains(&path) {
                std::fs::remove_file(&path).map_err(|source| io(&path, source))?;
            }
        }
        Ok(())
    }
}

impl World for LocalWorld {
    async fn apply(&self, manifests: Vec<Value>) -> Result<(), ClusterError> {
        for m in &manifests {
            let key = ObjectKey::of(m, "");
            validate::object(m, "").map_err(|message| ClusterError::Rejected { key, message })?;
        }
        {
            let now = rfc3339_now();
            let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            for m in manifests {
                store.apply(m, "default", &now);
            }
        }
        self.sync().await
    }

    async fn patch(&self, key: &ObjectKey, patch: &Value) -> Result<(), ClusterError> {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .patch(key, patch, &rfc3339_now())?;
        self.sync().await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ClusterError> {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .delete(key)?;
        self.sync().await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let Some(mut object) = self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
        else {
            return Ok(None);
        };
        if let Some(status) = self.read_status(key).await? {
            object["status"] = status;
        }
        Ok(Some(object))
    }

    fn controller_name(&self) -> Option<String> {
        Some(self.settings.controller_name.clone())
    }

    async fn service_endpoints(&self, namespace: &str, service: &str) -> Vec<SocketAddr> {
        let workloads = self.workloads.lock().await;
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        workloads.service_endpoints(&store, namespace, service)
    }

    async fn changed(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.status_changed.notified()).await;
    }

    async fn gateway_metrics(&self) -> Option<String> {
        let admin = self.admin_address()?;
        crate::run::gateway_metrics::fetch(&format!("http://{admin}/metrics")).await
    }

    fn gateway_exit(&self) -> Option<String> {
        let mut gateway = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        let gw = gateway.as_mut()?;
        let how = gw.exit()?;
        Some(format!(
            "the gateway process {how}; its last log lines:\n{}",
            gw.log_tail(10)
        ))
    }

    fn diagnostics(&self) -> String {
        match self
            .gateway
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(gw) => {
                let state = if gw.is_running() { "running" } else { "EXITED" };
                format!("gateway ({state}) log, last lines:\n{}", gw.log_tail(15))
            }
            None => "gateway not started".into(),
        }
    }

    async fn cleanup(self) {
        let gw = self
            .gateway
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(gw) = gw
            && let Some(problem) = gw.stop(process::GATEWAY_STOP_GRACE).await
        {
            // Cleanup has no step to fail; the reader must still learn it.
            eprintln!("gwl4: cleanup of {}: {problem}", self.dir.display());
        }
        self.workloads
            .lock()
            .await
            .stop(Hosts::Loopback(&self.backends))
            .await;
        self.gateways.release(self.address);
        if !self.settings.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> ClusterError {
    ClusterError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), ClusterError> {
    // The temp name does not end in .yaml, so the gateway never reads a
    // half-written file.
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).map_err(|source| io(&tmp, source))?;
    std::fs::rename(&tmp, path).map_err(|source| io(path, source))
}

/// Now, at second precision, as the API server stamps creationTimestamp.
pub fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
