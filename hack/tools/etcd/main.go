// Command etcd is the etcd server built from its pinned Go module, because Debian's
// etcd-server (3.4) is older than the Kubernetes release in hack/tools/kube supports.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
