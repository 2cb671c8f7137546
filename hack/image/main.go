// Command image builds the controller's container image from Go alone, with no Docker
// engine: a static linux binary (CGO_ENABLED=0, -trimpath) on an empty base, in one layer
// holding the binary, /etc/passwd and /etc/group with the non-root user the image runs as,
// /etc/nsswitch.conf, /home/nonroot and /tmp (the layout of distroless/static:nonroot that the
// Dockerfile builds on, without its CA bundle and time zones, which the controller does not
// read; and no shell). It writes the image as a `docker save` tarball, which `docker load` and
// `kind load image-archive` accept, and optionally as an OCI image layout.
//
// The image is reproducible: every file, the config's creation time and its history carry the
// -epoch time (SOURCE_DATE_EPOCH; `make image` passes the commit time), entries are written
// in a fixed order with fixed owners, and the Go build is -trimpath; so the same tree and Go
// toolchain give the same image digest and the same archive byte for byte.
//
// Usage (from the module root; `make image` runs it):
//
//	go run ./hack/image -tag batchjob-controller:dev -version v1.2.3 -revision abc1234 \
//	    -platform linux/amd64 -binary bin/linux_amd64/batchjob-controller \
//	    -out bin/batchjob-controller-image.tar [-oci-layout DIR]
//
// It prints the image ID (the config digest, as `docker images` shows it) and the manifest
// digest.
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image's layout; the Dockerfile builds the same (user, binary path, entrypoint).
const (
	// BinaryPath is where the controller lives in the image, and the entrypoint.
	BinaryPath = "/batchjob-controller"
	// User is the numeric non-root user:group the image runs as (distroless' "nonroot").
	User = "65532:65532"
	// Title is the org.opencontainers.image.title label.
	Title = "batchjob-controller"
	// Source is the org.opencontainers.image.source label.
	Source = "https://github.com/batchjob-dev/batchjob"

	uid, gid = 65532, 65532
)

// The files of /etc: root, nobody and nonroot, as distroless/static has them.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
	nsswitch = "hosts: files dns\n"
)

type options struct {
	tag       string
	version   string
	revision  string
	platform  string
	pkg       string
	binary    string
	out       string
	ociLayout string
	epoch     int64
}

func main() {
	var o options
	flag.StringVar(&o.tag, "tag", "batchjob-controller:dev", "Image reference recorded in the archive (docker load and kind load name the image after it).")
	flag.StringVar(&o.version, "version", "dev", "Version: -X main.version and the org.opencontainers.image.version label.")
	flag.StringVar(&o.revision, "revision", "unknown", "Commit: -X main.commit and the org.opencontainers.image.revision label.")
	flag.StringVar(&o.platform, "platform", "linux/amd64", "Target os/arch of the binary and the image.")
	flag.StringVar(&o.pkg, "build", "./cmd/batchjob-controller", "Go package to build into -binary; empty packs -binary as it is.")
	flag.StringVar(&o.binary, "binary", "bin/linux_amd64/batchjob-controller", "Path of the static controller binary (written when -build is set).")
	flag.StringVar(&o.out, "out", "bin/batchjob-controller-image.tar", "Path of the docker-save tarball to write.")
	flag.StringVar(&o.ociLayout, "oci-layout", "", "Also write the image into this OCI image layout directory (created or appended to).")
	flag.Int64Var(&o.epoch, "epoch", epochFromEnv(), "Unix time of every file and of the image's creation (default $SOURCE_DATE_EPOCH, else 0).")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "image: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func epochFromEnv() int64 {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		fmt.Fprintf(os.Stderr, "image: ignoring SOURCE_DATE_EPOCH=%q (not a Unix time)\n", s)
		return 0
	}
	return n
}

func run(o *options) error {
	plat, err := v1.ParsePlatform(o.platform)
	if err != nil {
		return err
	}
	if plat.OS != "linux" {
		return fmt.Errorf("platform %s: only linux images are supported", o.platform)
	}
	ref, err := name.NewTag(o.tag)
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	if o.pkg != "" {
		if err := build(o, plat); err != nil {
			return err
		}
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return err
	}
	if err := checkStatic(o.binary); err != nil {
		return err
	}
	img, err := Image(bin, Options{Epoch: o.epoch, Version: o.version, Revision: o.revision, Platform: *plat})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	// Write to a temporary file and rename, so an interrupted run leaves no half archive.
	tmp := o.out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, o.out); err != nil {
		return err
	}
	if o.ociLayout != "" {
		if err := writeLayout(o.ociLayout, ref, img); err != nil {
			return err
		}
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image: wrote %s (%s, %s)\n", o.out, o.tag, o.platform)
	fmt.Printf("image: id %s\n", id)
	fmt.Printf("image: digest %s\n", digest)
	return nil
}

// build compiles the static controller binary: no cgo, no local paths, stripped, stamped
// with the version and commit as `make build` does.
func build(o *options, plat *v1.Platform) error {
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", o.version, o.revision)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", o.binary, o.pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+plat.OS, "GOARCH="+plat.Architecture)
	if plat.Architecture == "arm" && plat.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(plat.Variant, "v"))
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "image: CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -trimpath -ldflags %q -o %s %s\n",
		plat.OS, plat.Architecture, ldflags, o.binary, o.pkg)
	return cmd.Run()
}

// checkStatic fails on a dynamically linked binary: the image has no libc or loader.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a linux (ELF) binary: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", path)
		}
	}
	return nil
}

// Options are the inputs of Image besides the binary.
type Options struct {
	Epoch    int64 // Unix time of every file, of the config's creation and of its history
	Version  string
	Revision string
	Platform v1.Platform
}

// Image assembles the image around the controller binary. The same inputs give the same
// digest.
func Image(binary []byte, o Options) (v1.Image, error) {
	created := time.Unix(o.Epoch, 0).UTC()
	layerTar, err := Layer(binary, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "go run ./hack/image",
			Comment:   "static batchjob-controller, /etc/passwd and /etc/group with nonroot (65532)",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS = o.Platform.OS
	cf.Architecture = o.Platform.Architecture
	cf.Variant = o.Platform.Variant
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: []string{BinaryPath},
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":    Title,
			"org.opencontainers.image.source":   Source,
			"org.opencontainers.image.version":  o.Version,
			"org.opencontainers.image.revision": o.Revision,
			"org.opencontainers.image.created":  created.Format(time.RFC3339),
			"org.opencontainers.image.licenses": "Apache-2.0",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// Layer returns the uncompressed tar of the image's only layer: directories before their
// contents, in a fixed order, every entry with the given mtime and numeric owners only.
func Layer(binary []byte, mtime time.Time) ([]byte, error) {
	type entry struct {
		name     string
		mode     int64
		uid, gid int
		data     []byte // nil for a directory
	}
	entries := []entry{
		{name: BinaryPath[1:], mode: 0o755, data: binary},
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte(nsswitch)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: uid, gid: gid},
		{name: "tmp/", mode: 0o1777},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeLayout(dir string, ref name.Tag, img v1.Image) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return err
		}
	}
	return p.ReplaceImage(img, func(d v1.Descriptor) bool {
		return d.Annotations["org.opencontainers.image.ref.name"] == ref.String()
	}, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()}))
}
