// imgtool: write a single-layer OCI image archive (oci-layout + index.json)
// for `ctr -n k8s.io images import`, from files on the host. Standard library
// only: the node test tier builds its images without a registry or a
// container builder (see ../../README.md, "A node (issue #22)").
//
//	imgtool -name ghcr.io/gwl4/echo-server:local -out echo-server.tar \
//	  -entrypoint /echo-server -user 65532:65532 -port 5000/tcp -port 5001/udp \
//	  target/release/echo-server=/echo-server /lib/x86_64-linux-gnu/libc.so.6=/lib/x86_64-linux-gnu/libc.so.6 ...
//
// Each SRC=DEST argument puts the content of SRC (symlinks followed) at DEST
// with SRC's permission bits; parent directories are created 0755, and /tmp
// (1777) is always there. Timestamps are the epoch, so the same inputs give
// the same digests.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

type desc struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    map[string]string `json:"platform,omitempty"`
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func digest(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

func main() {
	name := flag.String("name", "", "image reference, e.g. ghcr.io/gwl4/echo-server:local")
	out := flag.String("out", "", "output .tar")
	user := flag.String("user", "", "config User, e.g. 65532:65532")
	var entrypoint, cmd, ports, env list
	flag.Var(&entrypoint, "entrypoint", "Entrypoint element (repeat for more)")
	flag.Var(&cmd, "cmd", "Cmd element (repeat for more)")
	flag.Var(&ports, "port", "ExposedPorts entry, e.g. 8080/tcp (repeatable)")
	flag.Var(&env, "env", "Env entry NAME=VALUE (repeatable; PATH=/ by default)")
	flag.Parse()
	if *name == "" || *out == "" || len(entrypoint) == 0 || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: imgtool -name REF -out FILE.tar -entrypoint PATH [flags] SRC=DEST...")
		flag.PrintDefaults()
		os.Exit(2)
	}
	epoch := time.Unix(0, 0)

	// The layer: files sorted by destination, parents first; uncompressed for
	// the diff_id, gzip for the blob.
	type file struct {
		dest string
		mode int64
		data []byte
	}
	var files []file
	for _, arg := range flag.Args() {
		src, dest, ok := strings.Cut(arg, "=")
		if !ok || !strings.HasPrefix(dest, "/") {
			fail(fmt.Errorf("%q is not SRC=/DEST", arg))
		}
		data, err := os.ReadFile(src)
		check(err)
		st, err := os.Stat(src)
		check(err)
		files = append(files, file{strings.TrimPrefix(path.Clean(dest), "/"), int64(st.Mode().Perm()), data})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].dest < files[j].dest })
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := map[string]bool{"tmp": true}
	check(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 01777, ModTime: epoch}))
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.dest); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			dirs[d] = true
			check(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch}))
		}
		check(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.dest, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch}))
		_, err := tw.Write(f.data)
		check(err)
	}
	check(tw.Close())
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	_, err := zw.Write(raw.Bytes())
	check(err)
	check(zw.Close())

	if len(env) == 0 {
		env = list{"PATH=/usr/local/bin:/usr/bin:/bin:/"}
	}
	config := map[string]any{"Entrypoint": []string(entrypoint), "Env": []string(env), "WorkingDir": "/"}
	if len(cmd) > 0 {
		config["Cmd"] = []string(cmd)
	}
	if *user != "" {
		config["User"] = *user
	}
	if len(ports) > 0 {
		exposed := map[string]any{}
		for _, p := range ports {
			exposed[p] = map[string]any{}
		}
		config["ExposedPorts"] = exposed
	}
	cfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.UTC().Format(time.RFC3339),
		"config":       config,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest(raw.Bytes())}},
	}
	cfgB, _ := json.Marshal(cfg)
	layerB := gz.Bytes()
	man := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        desc{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digest(cfgB), Size: int64(len(cfgB))},
		"layers":        []desc{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digest(layerB), Size: int64(len(layerB))}},
	}
	manB, _ := json.Marshal(man)
	tag := "latest"
	if i := strings.LastIndex(*name, ":"); i > strings.LastIndex(*name, "/") {
		tag = (*name)[i+1:]
	}
	idx := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []desc{{
			MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digest(manB), Size: int64(len(manB)),
			Annotations: map[string]string{"io.containerd.image.name": *name, "org.opencontainers.image.ref.name": tag},
			Platform:    map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
		}},
	}
	idxB, _ := json.Marshal(idx)

	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	check(err)
	ow := tar.NewWriter(f)
	add := func(n string, b []byte) {
		check(ow.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: epoch}))
		_, err := ow.Write(b)
		check(err)
	}
	check(ow.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "blobs/", Mode: 0o755, ModTime: epoch}))
	check(ow.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "blobs/sha256/", Mode: 0o755, ModTime: epoch}))
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", idxB)
	for _, b := range [][]byte{cfgB, layerB, manB} {
		add("blobs/sha256/"+strings.TrimPrefix(digest(b), "sha256:"), b)
	}
	check(ow.Close())
	check(f.Close())
	check(os.Rename(tmp, *out))
	fmt.Printf("imgtool: %s -> %s (%d files, layer %d bytes, manifest %s)\n", *name, *out, len(files), len(layerB), digest(manB))
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "imgtool:", err)
	os.Exit(1)
}
