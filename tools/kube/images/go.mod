// The node test tier's image tools (see ../README.md, "A node (issue #22)"):
// pause/ (the pod sandbox process) and imgtool/ (writes OCI image archives
// for `ctr images import`). Standard library only. Not product code.
module gwl4.test/tools/kube/images

go 1.26.0
