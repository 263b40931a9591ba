//! The Ctrl-C path: `delete_all_live` deletes what every live world and
//! run recorded. Its own test binary, because it reaches every ledger in
//! the process and would delete other tests' objects.

mod kube_support;

use harness::cluster::kube::{KubeCluster, delete_all_live};
use harness::cluster::{Cluster, World};

use kube_support::*;

#[tokio::test]
async fn interrupt_cleanup_deletes_what_live_worlds_created() {
    let client = fake(Routes::V1, Some(true)).await;
    let cluster = KubeCluster::with_client(client.clone(), settings())
        .await
        .unwrap();
    let world = cluster.world("t").await.unwrap();
    let mut objects = harness::run::base_objects();
    objects.extend(doc(ROUTE));
    world.apply(objects).await.unwrap();
    assert!(!labelled(&client, "v1").await.is_empty());
    // What the Ctrl-C handler calls.
    delete_all_live().await;
    assert_eq!(labelled(&client, "v1").await, Vec::<String>::new());
    drop(world);
}
