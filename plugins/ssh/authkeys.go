package ssh

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	xssh "golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/plugins/sdk"
)

// managedMarker is the comment line the driver writes before each key it
// sets. The key line right after it is the key PassMan manages.
const managedMarker = "# managed by PassMan"

// stateMissing is the state of an authorized_keys file that does not
// exist. Any other state is the file's POSIX cksum, as "CRC SIZE".
const stateMissing = "missing"

// readKeysScript prints the authorized_keys file of account %[1]s after
// a first line that says whether it exists.
const readKeysScript = `f=~%[1]s/.ssh/authorized_keys
if [ ! -e "$f" ]; then echo missing; exit 0; fi
echo present
cat "$f"`

// writeKeysScript replaces the authorized_keys file of account %[1]s
// with its input, of %[4]d bytes, when the file is in state %[2]s; when
// it is already in state %[3]s it leaves it as it is, and in any other
// state it refuses, since someone else changed the file meanwhile. The
// new file is written beside the old one, with its mode, and renamed
// over it, so that sshd reads either the old file or the new one, whole.
// The input is read in full first, and dropped when it arrives short, as
// when the session breaks off.
const writeKeysScript = `set -e
umask 077
d=~%[1]s/.ssh
f="$d/authorized_keys"
[ -d "$d" ] || mkdir -m 700 "$d"
in=$(mktemp "$f.XXXXXX")
t=$(mktemp "$f.XXXXXX")
trap 'rm -f "$in" "$t"' EXIT
cat > "$in"
if [ $(wc -c < "$in") -ne %[4]d ]; then
	echo "the new authorized_keys came incomplete" >&2
	exit 4
fi
state() { if [ -e "$f" ]; then set -- $(cksum < "$f"); echo "$1 $2"; else echo missing; fi; }
now=$(state)
if [ "$now" = '%[3]s' ]; then exit 0; fi
if [ "$now" != '%[2]s' ]; then
	echo "authorized_keys was changed by someone else meanwhile" >&2
	exit 3
fi
if [ -e "$f" ]; then cp -p "$f" "$t"; fi
cat "$in" > "$t"
mv -f "$t" "$f"`

// keyFile is an account's authorized_keys file as read from the target.
type keyFile struct {
	// content is the file's content, empty when it does not exist.
	content []byte
	// state is stateMissing or the content's cksum.
	state string
}

// readKeyFile reads the account's authorized_keys file. A file larger
// than the driver keeps of a command's output is refused.
func readKeyFile(ctx context.Context, edit keyEditor, account string) (*keyFile, error) {
	out, err := edit(ctx, fmt.Sprintf(readKeysScript, account), nil)
	if err != nil {
		return nil, err
	}
	if out.status != 0 {
		return nil, commandError("reading authorized_keys", out)
	}
	if len(out.stdout) >= maxOutput {
		return nil, sdk.Errorf(sdk.ReasonFailed,
			"authorized_keys is larger than the %d bytes the driver handles", maxOutput)
	}
	head, content, _ := strings.Cut(out.stdout, "\n")
	switch head {
	case stateMissing:
		return &keyFile{state: stateMissing}, nil
	case "present":
		return &keyFile{content: []byte(content), state: cksum([]byte(content))}, nil
	}
	return nil, sdk.Errorf(sdk.ReasonFailed,
		"reading authorized_keys printed %q, not the file", lastLines(out.stdout, 1))
}

// writeKeyFile replaces the account's authorized_keys file with content,
// provided it is still in state from. It does nothing when the file
// already is in state done.
func writeKeyFile(
	ctx context.Context, edit keyEditor, account, from, done string, content []byte,
) error {
	script := fmt.Sprintf(writeKeysScript, account, from, done, len(content))
	out, err := edit(ctx, script, content)
	if err != nil {
		return err
	}
	if out.status != 0 {
		return commandError("writing authorized_keys", out)
	}
	return nil
}

// keyEdit is an authorized_keys file with the managed key replaced, and
// what the replacement found.
type keyEdit struct {
	// content is the new file.
	content []byte
	// foundCurrent says whether the file held the current key.
	foundCurrent bool
	// replaced is the number of key lines replaced.
	replaced int
	// kept is the number of other key lines kept.
	kept int
}

// replaceManaged returns content with the key PassMan manages replaced by
// the new key. The lines replaced are those of the current key, when
// keys has one, the key line right after each marker, and any line of
// the new key itself. The marker and the new key's line take the place
// of the first line replaced, or go at the end when there is none. Every
// other line is kept as it was.
func replaceManaged(content []byte, keys *keyPair) *keyEdit {
	e := &keyEdit{}
	var lines []string
	at := -1
	replace := func() {
		e.replaced++
		if at < 0 {
			at = len(lines)
		}
	}
	in := splitLines(content)
	for i := 0; i < len(in); i++ {
		l := in[i]
		k := lineKey(l)
		switch {
		case strings.TrimSpace(l) == managedMarker:
			if at < 0 {
				at = len(lines)
			}
			if managed := nextKey(in, i); managed != nil {
				i++
				e.foundCurrent = e.foundCurrent || sameKey(managed, keys.oldKey)
				replace()
			}
		case sameKey(k, keys.oldKey):
			e.foundCurrent = true
			replace()
		case sameKey(k, keys.newKey):
			replace()
		default:
			if k != nil {
				e.kept++
			}
			lines = append(lines, l)
		}
	}
	if at < 0 {
		at = len(lines)
	}
	lines = append(lines[:at], append([]string{managedMarker, keys.newLine}, lines[at:]...)...)
	e.content = []byte(strings.Join(lines, "\n") + "\n")
	return e
}

// nextKey returns the key of the line after line i, or nil when there is
// none.
func nextKey(lines []string, i int) xssh.PublicKey {
	if i+1 >= len(lines) {
		return nil
	}
	return lineKey(lines[i+1])
}

// splitLines splits a file into its lines, without their newlines.
func splitLines(content []byte) []string {
	s := strings.TrimSuffix(string(content), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lineKey returns the key of an authorized_keys line, or nil for a line
// that holds none: a comment, a blank or one that does not parse.
func lineKey(line string) xssh.PublicKey {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return nil
	}
	k, _, _, _, err := xssh.ParseAuthorizedKey([]byte(t))
	if err != nil {
		return nil
	}
	return k
}

// sameKey reports whether a and b are the same key; nil is no key.
func sameKey(a, b xssh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}

// cksum returns the POSIX cksum of b as "CRC SIZE": a CRC-32 with the
// polynomial 0x04C11DB7, most significant bit first, over b and then
// b's length in as few bytes as it takes, least significant first,
// inverted at the end.
func cksum(b []byte) string {
	var crc uint32
	add := func(c byte) {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&(1<<31) != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	for _, c := range b {
		add(c)
	}
	for n := len(b); n > 0; n >>= 8 {
		add(byte(n))
	}
	return fmt.Sprintf("%d %d", ^crc, len(b))
}
