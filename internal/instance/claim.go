package instance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// HostDir is where live funcds keep their claims on the host's networks.
// It is on /run, a tmpfs, so a reboot forgets the claims with the
// processes that held them.
const HostDir = "/run/funcd"

// Claim is what one live funcd holds on the host: a bridge and a subnet.
type Claim struct {
	ID       string       `json:"id"`       // the instance's identity (see ID)
	StateDir string       `json:"stateDir"` // absolute
	PID      int          `json:"pid"`
	Bridge   string       `json:"bridge"`
	Subnet   netip.Prefix `json:"subnet"`
}

// String names the claimant the way refusals quote it.
func (c Claim) String() string {
	return fmt.Sprintf("pid %d, state dir %s, bridge %s, subnet %s", c.PID, c.StateDir, c.Bridge, c.Subnet)
}

// Held is a claim this process holds.
type Held struct {
	dir, path string
	f         *os.File
}

// Take records c in dir (one file per instance, ID.json), held until
// Release or the process's end. It refuses, wrapping ErrInUse and naming
// the other funcd, when a live one in dir claims the same bridge, a subnet
// overlapping c's, or the same identity (a copied state directory). Claims
// of processes that are gone are removed.
func Take(dir string, c Claim) (*Held, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("claim network: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	others, err := live(dir)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if err := conflict(c, o); err != nil {
			return nil, err
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("claim network: %w", err)
	}
	path := filepath.Join(dir, c.ID+".json")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("claim network: %w", err)
	}
	ok, err := tryLock(f)
	if err == nil && !ok {
		err = errors.New("claim file locked by another process")
	}
	if err == nil {
		_, err = f.Write(append(data, '\n'))
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("claim network: %w", err)
	}
	return &Held{dir: dir, path: path, f: f}, nil
}

// Release gives the claim up.
func (h *Held) Release() error {
	unlock, err := lockDir(h.dir)
	if err != nil {
		h.f.Close() // the kernel drops the lock; the file is stale from now
		return err
	}
	defer unlock()
	rerr := os.Remove(h.path)
	return errors.Join(rerr, h.f.Close())
}

// Live returns the claims of the live funcds in dir, removing those of
// processes that are gone. A missing dir holds none.
func Live(dir string) ([]Claim, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return live(dir)
}

// live reads the claims in dir whose file is still locked by its owner and
// removes the others. The caller holds dir's lock, so no claim is being
// written meanwhile.
func live(dir string) ([]Claim, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	var out []Claim
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || !e.Type().IsRegular() {
			continue
		}
		c, alive, err := readClaim(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if alive {
			out = append(out, c)
		}
	}
	return out, nil
}

// readClaim reads the claim at path and reports whether its owner still
// holds it; a stale one is removed.
func readClaim(path string) (Claim, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, fmt.Errorf("read claim: %w", err)
	}
	defer f.Close()
	free, err := tryLock(f)
	if err != nil {
		return Claim{}, false, fmt.Errorf("read claim %s: %w", path, err)
	}
	if free { // its owner is gone
		if err := os.Remove(path); err != nil {
			return Claim{}, false, fmt.Errorf("remove stale claim: %w", err)
		}
		return Claim{}, false, nil
	}
	var c Claim
	if err := json.NewDecoder(f).Decode(&c); err != nil {
		return Claim{}, false, fmt.Errorf("read claim %s: %w", path, err)
	}
	return c, true, nil
}

// conflict says why c cannot be held beside o, the claim of another live
// funcd, or returns nil.
func conflict(c, o Claim) error {
	switch {
	case o.ID == c.ID:
		return fmt.Errorf("instance %s %w (%s): was one state dir copied to another? Remove instance-id from the copy's state dir before starting it", c.ID, ErrInUse, o)
	case o.Bridge == c.Bridge:
		return fmt.Errorf("bridge %s %w (%s); give this one its own --bridge and --subnet", c.Bridge, ErrInUse, o)
	case o.Subnet.Overlaps(c.Subnet):
		return fmt.Errorf("subnet %s overlaps subnet %s, %w (%s); give this one its own --subnet", c.Subnet, o.Subnet, ErrInUse, o)
	}
	return nil
}

// lockDir serialises claims in dir between processes: checking the others
// and writing one's own is one step.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock claims: %w", err)
	}
	if err := lockWait(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock claims: %w", err)
	}
	return func() { f.Close() }, nil
}
