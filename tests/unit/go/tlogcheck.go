// tlogcheck verifies Token Station's ledger artefacts with Go's golang.org/x/mod/sumdb/note and
// sumdb/tlog, an implementation we did not write. Used by tests/unit/test_ledger_go.py.
//
//	tlogcheck note VKEY FILE                   open the signed note
//	tlogcheck tiles VKEY BUNDLE                checkpoint + tree from the bundle's C2SP tiles
//	tlogcheck incl VKEY PROOF ENTRY            a c2sp.org/tlog-proof for the entry bytes in ENTRY
//	tlogcheck cons VKEY OLD NEW PROOF          consistency of two checkpoints (proof: base64 lines)
//
// Exit status 0 and "ok ..." on stdout when everything verifies; 1 and the reason otherwise.
package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(err error) {
	fmt.Println("fail:", err)
	os.Exit(1)
}

func read(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	return data
}

// openCheckpoint verifies the note and parses the C2SP checkpoint body: origin, size, root.
func openCheckpoint(vkey string, msg []byte) (string, tlog.Tree) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail(err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail(err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail(errors.New("checkpoint has fewer than three lines"))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		fail(fmt.Errorf("bad tree size %q", lines[1]))
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail(err)
	}
	if lines[0] != verifier.Name() {
		fail(fmt.Errorf("origin %q is not the key name %q", lines[0], verifier.Name()))
	}
	return lines[0], tlog.Tree{N: size, Hash: root}
}

// bundleTiles reads C2SP tlog-tiles (tile/<L>/<N>[.p/<W>]) for tlog's TileHashReader.
type bundleTiles struct{ dir string }

func (b bundleTiles) Height() int { return 8 }

func (b bundleTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		// Go's sumdb paths carry the height ("tile/8/L/N"); C2SP's do not ("tile/L/N").
		rel := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		data, err := os.ReadFile(filepath.Join(b.dir, rel))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (b bundleTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func main() {
	if len(os.Args) < 3 {
		fail(errors.New("usage: tlogcheck note|tiles|incl|cons VKEY ..."))
	}
	vkey := os.Args[2]
	switch os.Args[1] {
	case "note":
		origin, tree := openCheckpoint(vkey, read(os.Args[3]))
		fmt.Printf("ok %s %d %s\n", origin, tree.N, tree.Hash)
	case "tiles":
		dir := os.Args[3]
		_, tree := openCheckpoint(vkey, read(filepath.Join(dir, "checkpoint")))
		hr := tlog.TileHashReader(tree, bundleTiles{dir})
		root, err := tlog.TreeHash(tree.N, hr)
		if err != nil {
			fail(err)
		}
		if root != tree.Hash {
			fail(errors.New("tiles do not hash to the checkpoint's root"))
		}
		// Every entry in the entry bundles is the record its level-0 tile hash says.
		for n := int64(0); n*256 < tree.N; n++ {
			w := tree.N - n*256
			if w > 256 {
				w = 256
			}
			t := tlog.Tile{H: 8, L: 0, N: n, W: int(w)}
			rel := "tile/entries/" + strings.TrimPrefix(t.Path(), "tile/8/0/")
			data := read(filepath.Join(dir, rel))
			for k := int64(0); k < w; k++ {
				size := int(data[0])<<8 | int(data[1])
				record := data[2 : 2+size]
				data = data[2+size:]
				hashes, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, n*256+k)})
				if err != nil {
					fail(err)
				}
				if tlog.RecordHash(record) != hashes[0] {
					fail(fmt.Errorf("entry %d does not hash to its tile", n*256+k))
				}
				p, err := tlog.ProveRecord(tree.N, n*256+k, hr)
				if err != nil {
					fail(err)
				}
				if err := tlog.CheckRecord(p, tree.N, tree.Hash, n*256+k, tlog.RecordHash(record)); err != nil {
					fail(err)
				}
			}
		}
		fmt.Printf("ok %d %s\n", tree.N, tree.Hash)
	case "incl":
		text := string(read(os.Args[3]))
		head, checkpoint, found := strings.Cut(text, "\n\n")
		if !found {
			fail(errors.New("no blank line in the proof"))
		}
		lines := strings.Split(head, "\n")
		if lines[0] != "c2sp.org/tlog-proof@v1" {
			fail(errors.New("not a c2sp.org/tlog-proof@v1"))
		}
		lines = lines[1:]
		if strings.HasPrefix(lines[0], "extra ") {
			lines = lines[1:]
		}
		index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
		if err != nil {
			fail(err)
		}
		var proof tlog.RecordProof
		for _, line := range lines[1:] {
			h, err := tlog.ParseHash(line)
			if err != nil {
				fail(err)
			}
			proof = append(proof, h)
		}
		_, tree := openCheckpoint(vkey, []byte(checkpoint))
		record := read(os.Args[4])
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, index, tlog.RecordHash(record)); err != nil {
			fail(err)
		}
		fmt.Printf("ok %d in %d\n", index, tree.N)
	case "cons":
		_, old := openCheckpoint(vkey, read(os.Args[3]))
		_, cur := openCheckpoint(vkey, read(os.Args[4]))
		var proof tlog.TreeProof
		for _, line := range strings.Fields(string(read(os.Args[5]))) {
			h, err := base64.StdEncoding.DecodeString(line)
			if err != nil || len(h) != tlog.HashSize {
				fail(fmt.Errorf("bad proof hash %q", line))
			}
			var hash tlog.Hash
			copy(hash[:], h)
			proof = append(proof, hash)
		}
		if err := tlog.CheckTree(proof, cur.N, cur.Hash, old.N, old.Hash); err != nil {
			fail(err)
		}
		fmt.Printf("ok %d -> %d\n", old.N, cur.N)
	default:
		fail(errors.New("unknown command " + os.Args[1]))
	}
}
