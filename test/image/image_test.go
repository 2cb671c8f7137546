// Package image tests `make image` (hack/image): the controller image archive built from Go
// alone. It builds the archive twice into a temporary directory, checks that both are the
// same byte for byte (so the same digest), then reads it the way `docker load` and
// `kind load image-archive` do (a docker-save tarball) and checks the config, the files, and
// that the binary in the layer runs.
package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// What hack/image promises (and the Dockerfile builds).
const (
	tag        = "batchjob-controller:test"
	version    = "v0.0.0-imagetest"
	revision   = "0123abc"
	epoch      = 1700000000 // 2023-11-14T22:13:20Z
	binaryPath = "/batchjob-controller"
	user       = "65532:65532"
)

// The whole filesystem of the image: anything else (a shell, a package manager) is a failure.
var wantFiles = map[string]struct {
	mode     int64
	uid, gid int
}{
	"batchjob-controller": {0o755, 0, 0},
	"etc/":                {0o755, 0, 0},
	"etc/group":           {0o644, 0, 0},
	"etc/nsswitch.conf":   {0o644, 0, 0},
	"etc/passwd":          {0o644, 0, 0},
	"home/":               {0o755, 0, 0},
	"home/nonroot/":       {0o700, 65532, 65532},
	"tmp/":                {0o1777, 0, 0},
}

func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the controller twice (about a minute on a warm build cache)")
	}
	root := moduleRoot(t)
	dir := t.TempDir()
	platform := "linux/" + runtime.GOARCH

	// Build the tool once, then run it twice as `make image` does: each run builds the
	// static controller and packs it.
	tool := filepath.Join(dir, "imagetool")
	goCmd(t, root, "build", "-o", tool, "./hack/image")
	var archives [2]string
	var outputs [2]string
	for i := range archives {
		archives[i] = filepath.Join(dir, "run"+string(rune('a'+i)), "image.tar")
		args := []string{"-tag", tag, "-version", version, "-revision", revision, "-platform", platform,
			"-epoch", "1700000000",
			"-binary", filepath.Join(filepath.Dir(archives[i]), "batchjob-controller"),
			"-out", archives[i]}
		if i == 0 {
			args = append(args, "-oci-layout", filepath.Join(dir, "oci"))
		}
		start := time.Now()
		outputs[i] = run(t, root, tool, args...)
		t.Logf("run %d (%s): %s\n%s", i+1, time.Since(start).Round(time.Second), strings.Join(args, " "), outputs[i])
	}

	// Reproducible: the same archive byte for byte, so the same image ID and digest.
	if a, b := fileSum(t, archives[0]), fileSum(t, archives[1]); a != b {
		t.Errorf("two builds gave different archives: sha256 %x and %x", a, b)
	}
	img := load(t, archives[0])
	img2 := load(t, archives[1])
	digest, id := digests(t, img)
	if digest2, id2 := digests(t, img2); digest != digest2 || id != id2 {
		t.Errorf("two builds gave different images: digest %s / %s, id %s / %s", digest, digest2, id, id2)
	}
	// The digests the tool printed are those of the archive as read back.
	for _, want := range []string{"id " + id.String(), "digest " + digest.String()} {
		if !strings.Contains(outputs[0], want) {
			t.Errorf("the tool's output lacks %q:\n%s", want, outputs[0])
		}
	}
	t.Logf("image %s: id %s, digest %s", tag, id, digest)

	checkArchiveTags(t, archives[0])
	checkConfig(t, img)
	bin := checkLayer(t, img)
	checkBinary(t, dir, bin)
	checkLayout(t, filepath.Join(dir, "oci"), digest)
}

// The docker-save manifest names the image after -tag, which docker load and kind load use.
func checkArchiveTags(t *testing.T, archive string) {
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("no manifest.json in the archive")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m tarball.Manifest
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{tag}) || len(m[0].Layers) != 1 {
			t.Errorf("manifest.json: %+v, want one image tagged %s with one layer", m, tag)
		}
		return
	}
}

func checkConfig(t *testing.T, img v1.Image) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	c := cf.Config
	if c.User != user {
		t.Errorf("User %q, want %q", c.User, user)
	}
	uid, gid, ok := strings.Cut(c.User, ":")
	if !ok || !numeric(uid) || !numeric(gid) || uid == "0" || gid == "0" {
		t.Errorf("User %q is not a numeric non-root uid:gid", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{binaryPath}) || len(c.Cmd) != 0 {
		t.Errorf("Entrypoint %q Cmd %q, want [%s] and no Cmd", c.Entrypoint, c.Cmd, binaryPath)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.title":    "batchjob-controller",
		"org.opencontainers.image.source":   "https://github.com/batchjob-dev/batchjob",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cf.Created.Equal(time.Unix(epoch, 0)) {
		t.Errorf("created %s, want the epoch %s", cf.Created.Time, time.Unix(epoch, 0).UTC())
	}
	for _, h := range cf.History {
		if !h.Created.Equal(time.Unix(epoch, 0)) {
			t.Errorf("history %q created %s, want the epoch", h.CreatedBy, h.Created.Time)
		}
	}
}

// checkLayer checks the filesystem and returns the controller binary.
func checkLayer(t *testing.T, img v1.Image) []byte {
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	files := map[string][]byte{}
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if base := path.Base(h.Name); slices.Contains([]string{"sh", "bash", "ash", "dash", "busybox"}, base) {
			t.Errorf("the image has a shell: %s", h.Name)
		}
		want, ok := wantFiles[h.Name]
		if !ok {
			t.Errorf("unexpected file in the image: %s", h.Name)
			continue
		}
		if h.Mode != want.mode || h.Uid != want.uid || h.Gid != want.gid || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mode %o owner %d:%d (%q:%q), want mode %o owner %d:%d", h.Name, h.Mode, h.Uid, h.Gid,
				h.Uname, h.Gname, want.mode, want.uid, want.gid)
		}
		if !h.ModTime.Equal(time.Unix(epoch, 0)) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: mtime %s atime %s ctime %s, want the epoch %s only", h.Name, h.ModTime, h.AccessTime,
				h.ChangeTime, time.Unix(epoch, 0).UTC())
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("layer entries are not in a fixed (sorted) order: %q", names)
	}
	for name := range wantFiles {
		if !slices.Contains(names, name) {
			t.Errorf("the image lacks %s", name)
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	if !hasLine(files["etc/passwd"], func(f []string) bool { return len(f) == 7 && f[2] == uid && f[3] == gid && f[5] == "/home/nonroot" }) {
		t.Errorf("/etc/passwd has no entry for uid %s gid %s:\n%s", uid, gid, files["etc/passwd"])
	}
	if !hasLine(files["etc/group"], func(f []string) bool { return len(f) == 4 && f[2] == gid }) {
		t.Errorf("/etc/group has no entry for gid %s:\n%s", gid, files["etc/group"])
	}
	bin := files[strings.TrimPrefix(binaryPath, "/")]
	if len(bin) == 0 {
		t.Fatal("no controller binary in the layer")
	}
	return bin
}

// checkBinary runs the binary taken out of the layer: it is static (runs with no loader or
// libc from the image), and it is the controller, stamped with -version and -revision.
func checkBinary(t *testing.T, dir string, bin []byte) {
	if runtime.GOOS != "linux" {
		t.Log("not on linux: the binary is not run")
		return
	}
	p := filepath.Join(dir, "extracted", "batchjob-controller")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("batchjob-controller --help: %v\n%s", err, out)
	}
	for _, flag := range []string{"-leader-elect", "-kube-api-qps", "-metrics-bind-address"} {
		if !bytes.Contains(out, []byte(flag)) {
			t.Errorf("batchjob-controller --help does not mention %s:\n%s", flag, out)
		}
	}
	out, err = exec.Command(p, "--version").CombinedOutput()
	want := "batchjob-controller " + version + " (commit " + revision + ")"
	if err != nil || !strings.Contains(string(out), want) {
		t.Errorf("batchjob-controller --version: %v %q, want %q", err, out, want)
	}
}

// The optional OCI layout holds the same image.
func checkLayout(t *testing.T, dir string, digest v1.Hash) {
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != digest ||
		m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != tag {
		t.Errorf("OCI layout index: %+v, want the one image %s named %s", m.Manifests, digest, tag)
	}
}

// The Dockerfile, for Docker users, builds the same layout: same user, path and entrypoint.
func TestDockerfileLayout(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"USER " + user,
		`ENTRYPOINT ["` + binaryPath + `"]`,
		" " + binaryPath + "\n", // the COPY destination
		"CGO_ENABLED=0",
		"-trimpath",
	} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func load(t *testing.T, archive string) v1.Image {
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digests(t *testing.T, img v1.Image) (digest, id v1.Hash) {
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	id, err = img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return digest, id
}

func fileSum(t *testing.T, p string) [sha256.Size]byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func hasLine(data []byte, match func(fields []string) bool) bool {
	for line := range strings.Lines(string(data)) {
		if match(strings.Split(strings.TrimSuffix(line, "\n"), ":")) {
			return true
		}
	}
	return false
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func goCmd(t *testing.T, dir string, args ...string) {
	run(t, dir, "go", args...)
}

func run(t *testing.T, dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
