// Command etcd is etcd's server, built from go.etcd.io/etcd/server/v3 for the
// real-API-server test tier (see ../README.md). It is what etcd's own
// server/main.go does: hand the arguments to etcdmain.Main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
