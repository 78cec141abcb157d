package policy

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/passman-dev/passman/internal/secret"
	"github.com/passman-dev/passman/server/model"
)

// passwordPolicy returns a valid password policy named "test" with the
// given rules.
func passwordPolicy(r PasswordRules) Policy {
	return Policy{Name: "test", Type: model.Password, Password: &r}
}

// pinPolicy returns a PIN policy named "test" with the given rules.
func pinPolicy(r PINRules) Policy {
	return Policy{Name: "test", Type: model.PIN, PIN: &r}
}

// sshPolicy returns an SSH key policy named "test" with the given rules.
func sshPolicy(algorithm string, bits int) Policy {
	return Policy{Name: "test", Type: model.SSHKey,
		SSHKey: &SSHKeyRules{Algorithm: algorithm, Bits: bits}}
}

// rules returns password rules of the given length with one of each class
// and the default symbols.
func rules(length int) PasswordRules {
	return PasswordRules{Length: length, MinLower: 1, MinUpper: 1, MinDigits: 1,
		MinSymbols: 1, Symbols: defaultSymbols}
}

// RSA keys are slow to make, so each size is made once for all tests.
var (
	rsa3072Value = sync.OnceValues(func() (secret.Value, error) {
		p := sshPolicy(algRSA, 3072)
		return p.Generate()
	})
	rsa2048Key = sync.OnceValues(func() (*rsa.PrivateKey, error) {
		return rsa.GenerateKey(rand.Reader, 2048)
	})
)

// generatedRSA3072 returns an RSA 3072 key made by Generate.
func generatedRSA3072(t testing.TB) secret.Value {
	t.Helper()
	v, err := rsa3072Value()
	if err != nil {
		t.Fatalf("generating rsa 3072 key: %v", err)
	}
	return v
}

// rsa2048 returns an RSA 2048 key, too weak for any policy.
func rsa2048(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa2048Key()
	if err != nil {
		t.Fatalf("generating rsa 2048 key: %v", err)
	}
	return k
}

// newEd25519 returns a new ed25519 private key.
func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newECDSA returns a new P-256 private key.
func newECDSA(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// openSSHPEM encodes key as an OpenSSH private key.
func openSSHPEM(t testing.TB, key any) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "test")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

// pkcs8PEM encodes key as a PKCS#8 private key.
func pkcs8PEM(t testing.TB, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// pkcs1PEM encodes key as a PKCS#1 RSA private key.
func pkcs1PEM(key *rsa.PrivateKey) string {
	der := x509.MarshalPKCS1PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
}

// ecPEM encodes key as a SEC 1 EC private key.
func ecPEM(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// encryptedPEM encodes key as an OpenSSH private key under a passphrase.
func encryptedPEM(t testing.TB, key any) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

func TestValidate(t *testing.T) {
	noSymbols := rules(12)
	noSymbols.MinSymbols, noSymbols.Symbols = 0, ""
	tests := []struct {
		name   string
		policy Policy
		want   string // part of the error message; "" means valid
	}{
		{"default password", Default(model.Password), ""},
		{"default pin", Default(model.PIN), ""},
		{"default ssh key", Default(model.SSHKey), ""},
		{"name with dots", Policy{Name: "db.prod_v-2", Type: model.PIN,
			PIN: &PINRules{Length: 4, MaxRepeat: 1, MaxRun: 1}}, ""},
		{"no symbols", passwordPolicy(noSymbols), ""},
		{"mins fill the length", passwordPolicy(PasswordRules{Length: 8, MinLower: 2,
			MinUpper: 2, MinDigits: 2, MinSymbols: 2, Symbols: "-"}), ""},
		{"longest password", passwordPolicy(rules(1024)), ""},
		{"rsa 3072", sshPolicy(algRSA, 3072), ""},
		{"rsa 4096", sshPolicy(algRSA, 4096), ""},
		{"ed25519 with 256 bits", sshPolicy(algEd25519, 256), ""},
		{"strictest pin", pinPolicy(PINRules{Length: 64, MaxRepeat: 1, MaxRun: 1}), ""},

		{"mins over length", passwordPolicy(PasswordRules{Length: 8, MinLower: 3,
			MinUpper: 2, MinDigits: 2, MinSymbols: 2, Symbols: "-"}),
			"password length 8 is shorter than the 9 characters the minimum counts require"},
		{"huge mins", passwordPolicy(PasswordRules{Length: 8, MinLower: 1 << 62,
			MinUpper: 1 << 62, MinDigits: 1 << 62, MinSymbols: 1 << 62, Symbols: "-"}),
			"password length 8 is shorter than"},
		{"password too short", passwordPolicy(rules(7)), "password length 7 is outside 8 to 1024"},
		{"password too long", passwordPolicy(rules(1025)), "password length 1025 is outside"},
		{"negative min", passwordPolicy(PasswordRules{Length: 8, MinUpper: -1,
			Symbols: "-"}), "min_upper is -1; use 0 or more"},
		{"digits excluded", passwordPolicy(PasswordRules{Length: 10, MinDigits: 1,
			Exclude: "0123456789"}),
			"min_digits is 1 but exclude removes every allowed digit"},
		{"symbols excluded", passwordPolicy(PasswordRules{Length: 10, MinSymbols: 2,
			Symbols: "-_", Exclude: "_-"}),
			"min_symbols is 2 but exclude removes every allowed symbol"},
		{"symbols missing", passwordPolicy(PasswordRules{Length: 10, MinSymbols: 1}),
			"min_symbols is 1 but symbols is empty"},
		{"symbol is a letter", passwordPolicy(PasswordRules{Length: 10, Symbols: "-a"}),
			`symbols holds 'a'; letters and digits have their own classes`},
		{"symbol is a space", passwordPolicy(PasswordRules{Length: 10, Symbols: "- "}),
			`symbols holds ' '; use printable ASCII characters other than space`},
		{"symbol not ascii", passwordPolicy(PasswordRules{Length: 10, Symbols: "€"}),
			`symbols holds '€'`},
		{"exclude not ascii", passwordPolicy(PasswordRules{Length: 10, Exclude: "é"}),
			`exclude holds 'é', which is never used anyway`},
		{"everything excluded", passwordPolicy(PasswordRules{Length: 10,
			Exclude: lowerLetters + upperLetters + digits}),
			"no character is left to build a password from"},

		{"pin too short", pinPolicy(PINRules{Length: 3, MaxRepeat: 1, MaxRun: 1}),
			"pin length 3 is outside 4 to 64"},
		{"pin too long", pinPolicy(PINRules{Length: 65, MaxRepeat: 1, MaxRun: 1}),
			"pin length 65 is outside 4 to 64"},
		{"pin max_repeat 0", pinPolicy(PINRules{Length: 6, MaxRun: 2}),
			"pin max_repeat 0 is below 1"},
		{"pin max_run 0", pinPolicy(PINRules{Length: 6, MaxRepeat: 2}),
			"pin max_run 0 is below 1"},

		{"rsa 2048", sshPolicy(algRSA, 2048),
			"rsa keys of 2048 bits are too weak; set bits to 3072 or 4096"},
		{"rsa without bits", sshPolicy(algRSA, 0), "rsa keys of 0 bits are too weak"},
		{"rsa 8192", sshPolicy(algRSA, 8192), "rsa bits 8192 is not supported"},
		{"ed25519 with bits", sshPolicy(algEd25519, 3072),
			"ed25519 keys have a fixed size, not 3072 bits"},
		{"dsa", sshPolicy("dsa", 1024), `ssh key algorithm "dsa" is not supported`},
		{"algorithm in capitals", sshPolicy("ED25519", 0), "is not supported"},

		{"unknown type", Policy{Name: "x", Type: "otp"},
			`unknown credential type "otp"; use password, ssh-key or pin`},
		{"no type", Policy{Name: "x"}, `unknown credential type ""`},
		{"rules missing", Policy{Name: "x", Type: model.PIN},
			`type pin needs pin rules; add a "pin" object`},
		{"rules mismatched", Policy{Name: "x", Type: model.Password,
			PIN: &PINRules{Length: 4, MaxRepeat: 1, MaxRun: 1}},
			`type password cannot have pin rules; remove "pin"`},
		{"extra rules", Policy{Name: "x", Type: model.SSHKey,
			SSHKey: &SSHKeyRules{Algorithm: algEd25519}, Password: &PasswordRules{}},
			`type ssh-key cannot have password rules`},
		{"no name", Policy{Type: model.SSHKey, SSHKey: &SSHKeyRules{Algorithm: algEd25519}},
			"name must be 1 to 64 characters long, not 0"},
		{"long name", Policy{Name: strings.Repeat("n", 65), Type: model.SSHKey,
			SSHKey: &SSHKeyRules{Algorithm: algEd25519}}, "not 65"},
		{"name with space", Policy{Name: "my policy", Type: model.SSHKey,
			SSHKey: &SSHKeyRules{Algorithm: algEd25519}},
			"name may only hold letters, digits, '.', '_' and '-'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Validate() = %v, want an ErrInvalidPolicy", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	p := passwordPolicy(PasswordRules{Length: 4, MinDigits: 5, Symbols: "a"})
	p.Name = ""
	err := p.Validate()
	want := `invalid policy "": name must be 1 to 64 characters long, not 0; ` +
		"password length 4 is outside 8 to 1024; choose a length in that range; " +
		"symbols holds 'a'; letters and digits have their own classes, list only symbols; " +
		"password length 4 is shorter than the 5 characters the minimum counts require; " +
		"raise length or lower the min_ counts"
	if err == nil {
		t.Fatal("Validate() = nil, want an error")
	}
	if diff := cmp.Diff(err.Error(), want); diff != "" {
		t.Errorf("Validate() mismatch (-got +want):\n%s", diff)
	}
}

func TestEnsureDefaults(t *testing.T) {
	defaults := PasswordRules{Length: 24, MinLower: 1, MinUpper: 1, MinDigits: 1,
		MinSymbols: 1, Symbols: "!#%+-.:=?@^_~"}
	tests := []struct {
		name string
		in   Policy
		want Policy
	}{
		{"password rules created", Policy{Type: model.Password},
			Policy{Type: model.Password, Password: &defaults}},
		{"password explicit values kept",
			passwordPolicy(PasswordRules{Length: 40, MinDigits: 3, Symbols: "-", Exclude: "0O"}),
			passwordPolicy(PasswordRules{Length: 40, MinLower: 1, MinUpper: 1, MinDigits: 3,
				MinSymbols: 1, Symbols: "-", Exclude: "0O"})},
		{"pin rules created", Policy{Type: model.PIN},
			Policy{Type: model.PIN, PIN: &PINRules{Length: 6, MaxRepeat: 1, MaxRun: 2}}},
		{"pin explicit values kept", pinPolicy(PINRules{Length: 8, MaxRun: 3}),
			pinPolicy(PINRules{Length: 8, MaxRepeat: 1, MaxRun: 3})},
		{"ssh rules created", Policy{Type: model.SSHKey},
			sshPolicy(algEd25519, 0)},
		{"rsa gets bits", sshPolicy(algRSA, 0), sshPolicy(algRSA, 3072)},
		{"rsa bits kept", sshPolicy(algRSA, 4096), sshPolicy(algRSA, 4096)},
		{"weak rsa bits kept for Validate", sshPolicy(algRSA, 2048), sshPolicy(algRSA, 2048)},
		{"ed25519 256 bits made 0", sshPolicy(algEd25519, 256), sshPolicy(algEd25519, 0)},
		{"unknown type untouched", Policy{Type: "otp"}, Policy{Type: "otp"}},
		{"other rules untouched", Policy{Type: model.PIN, Password: &PasswordRules{}},
			Policy{Type: model.PIN, Password: &PasswordRules{},
				PIN: &PINRules{Length: 6, MaxRepeat: 1, MaxRun: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Name = tt.in.Name
			got := tt.in
			got.EnsureDefaults()
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("EnsureDefaults() mismatch (-got +want):\n%s", diff)
			}
			again := got
			again.EnsureDefaults()
			if diff := cmp.Diff(again, got); diff != "" {
				t.Errorf("second EnsureDefaults() changed the policy (-got +want):\n%s", diff)
			}
		})
	}
}

func TestDefaultJSON(t *testing.T) {
	tests := []struct {
		typ  model.CredentialType
		want string
	}{
		{model.Password, `{"name":"default-password","type":"password","password":` +
			`{"length":24,"min_lower":1,"min_upper":1,"min_digits":1,"min_symbols":1,` +
			`"symbols":"!#%+-.:=?@^_~","exclude":""}}`},
		{model.PIN, `{"name":"default-pin","type":"pin","pin":` +
			`{"length":6,"max_repeat":1,"max_run":2}}`},
		{model.SSHKey, `{"name":"default-ssh-key","type":"ssh-key","ssh_key":` +
			`{"algorithm":"ed25519","bits":0}}`},
		{"otp", `{"name":"default-otp","type":"otp"}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			p := Default(tt.typ)
			got, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(got), tt.want); diff != "" {
				t.Errorf("json of Default(%s) mismatch (-got +want):\n%s", tt.typ, diff)
			}
			var back Policy
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(back, p); diff != "" {
				t.Errorf("json round trip mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	exact := PasswordRules{Length: 8, MinLower: 2, MinUpper: 2, MinDigits: 2,
		MinSymbols: 2, Symbols: "-_"}
	lookAlike := rules(16)
	lookAlike.Exclude = "0O1lI|"
	lookAlike.Symbols = "|-"
	noSymbols := PasswordRules{Length: 12, MinDigits: 4}
	tests := []struct {
		name  string
		rules PasswordRules
	}{
		{"defaults", *Default(model.Password).Password},
		{"mins fill the length", exact},
		{"look-alikes excluded", lookAlike},
		{"no symbols", noSymbols},
		{"long", rules(1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := passwordPolicy(tt.rules)
			seen := map[string]bool{}
			used := map[byte]bool{}
			for range 200 {
				pw := generate(t, p)
				if len(pw) != tt.rules.Length {
					t.Fatalf("generated %d characters, want %d", len(pw), tt.rules.Length)
				}
				if seen[pw] {
					t.Fatal("generated the same password twice")
				}
				seen[pw] = true
				for i := range len(pw) {
					used[pw[i]] = true
				}
			}
			checkAllUsed(t, &tt.rules, used)
		})
	}
}

// generate returns a value made by p.Generate, failing the test if it does
// not pass CheckFormat and p.Check.
func generate(t *testing.T, p Policy) string {
	t.Helper()
	v, err := p.Generate()
	if err != nil {
		t.Fatalf("Generate() error: %v", err)
	}
	if err := CheckFormat(p.Type, v); err != nil {
		t.Fatalf("CheckFormat() of a generated value = %v", err)
	}
	if got := p.Check(v); len(got) > 0 {
		t.Fatalf("Check() of a generated value = %q, want no violations", got)
	}
	return string(v.Reveal())
}

// checkAllUsed fails the test unless used holds every character r allows
// and nothing else.
func checkAllUsed(t *testing.T, r *PasswordRules, used map[byte]bool) {
	t.Helper()
	want := map[byte]bool{}
	for _, c := range r.classes() {
		for _, b := range c.chars {
			want[b] = true
		}
	}
	if diff := cmp.Diff(used, want); diff != "" {
		t.Errorf("characters used mismatch (-got +want):\n%s", diff)
	}
}

func TestGeneratePasswordExactCounts(t *testing.T) {
	p := passwordPolicy(PasswordRules{Length: 8, MinLower: 2, MinUpper: 2,
		MinDigits: 2, MinSymbols: 2, Symbols: "-_"})
	for range 50 {
		pw := generate(t, p)
		counts, _, _ := countClasses([]byte(pw), p.Password.classes(), "")
		if diff := cmp.Diff(counts, []int{2, 2, 2, 2}); diff != "" {
			t.Fatalf("class counts mismatch (-got +want):\n%s", diff)
		}
	}
}

func TestGeneratePIN(t *testing.T) {
	tests := []struct {
		name  string
		rules PINRules
	}{
		{"defaults", *Default(model.PIN).PIN},
		{"strictest", PINRules{Length: 64, MaxRepeat: 1, MaxRun: 1}},
		{"shortest", PINRules{Length: 4, MaxRepeat: 1, MaxRun: 1}},
		{"lenient", PINRules{Length: 12, MaxRepeat: 3, MaxRun: 4}},
		{"no limits in reach", PINRules{Length: 8, MaxRepeat: 8, MaxRun: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pinPolicy(tt.rules)
			used := map[rune]bool{}
			for range 200 {
				pin := generate(t, p)
				if len(pin) != tt.rules.Length {
					t.Fatalf("generated %d digits, want %d", len(pin), tt.rules.Length)
				}
				repeat, run := longestPatterns(pin)
				if repeat > tt.rules.MaxRepeat || run > tt.rules.MaxRun {
					t.Fatalf("generated pin with repeat %d and run %d, limits %d and %d",
						repeat, run, tt.rules.MaxRepeat, tt.rules.MaxRun)
				}
				for _, c := range pin {
					used[c] = true
				}
			}
			if len(used) != 10 {
				t.Errorf("generated pins use %d distinct characters, want the 10 digits",
					len(used))
			}
		})
	}
}

// longestPatterns measures pin the slow way, independently of the package:
// the longest stretch of one repeated digit and the longest stretch of
// digits each one above, or each one below, the digit before.
func longestPatterns(pin string) (repeat, run int) {
	for i := range len(pin) {
		for j := i + 1; j <= len(pin); j++ {
			s := pin[i:j]
			if steps(s, 0) {
				repeat = max(repeat, len(s))
			}
			if steps(s, 1) || steps(s, -1) {
				run = max(run, len(s))
			}
		}
	}
	return repeat, run
}

// steps reports whether each byte of s is d more than the one before.
func steps(s string, d int) bool {
	for k := 1; k < len(s); k++ {
		if int(s[k])-int(s[k-1]) != d {
			return false
		}
	}
	return true
}

func TestGenerateSSHKey(t *testing.T) {
	p := Default(model.SSHKey)
	seen := map[string]bool{}
	for range 20 {
		key := generate(t, p)
		if !strings.HasPrefix(key, "-----BEGIN OPENSSH PRIVATE KEY-----\n") {
			t.Fatalf("generated key does not start with an OpenSSH PEM header")
		}
		if seen[key] {
			t.Fatal("generated the same key twice")
		}
		seen[key] = true
	}
}

func TestGenerateRSA(t *testing.T) {
	v := generatedRSA3072(t)
	p := sshPolicy(algRSA, 3072)
	if got := p.Check(v); len(got) > 0 {
		t.Fatalf("Check() of a generated rsa key = %q", got)
	}
	key, err := parsePrivateKey(v.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if alg, bits := describeKey(key); alg != algRSA || bits != 3072 {
		t.Errorf("generated a %d-bit %s key, want a 3072-bit rsa key", bits, alg)
	}
}

func TestGenerateInvalidPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
	}{
		{"password", passwordPolicy(PasswordRules{Length: 8, MinLower: 9})},
		{"pin", pinPolicy(PINRules{Length: 6})},
		{"ssh key", sshPolicy(algRSA, 2048)},
		{"no rules", Policy{Name: "x", Type: model.Password}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.policy.Generate()
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("Generate() error = %v, want an ErrInvalidPolicy", err)
			}
			if !v.IsEmpty() {
				t.Error("Generate() returned a value with its error")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	look := rules(10)
	look.Exclude = "0O"
	strictPIN := pinPolicy(PINRules{Length: 4, MaxRepeat: 1, MaxRun: 1})
	ed := openSSHPEM(t, newEd25519(t))
	tests := []struct {
		name   string
		policy Policy
		value  string
		want   []string
	}{
		{"password compliant", passwordPolicy(rules(8)), "aB3-xyzw", nil},
		{"password longer than length", passwordPolicy(rules(8)), "aB3-xyzwvuts", nil},
		{"password short", passwordPolicy(rules(10)), "aB3-xyzw",
			[]string{"password is shorter than the 10 characters the policy requires"}},
		{"password classes missing", passwordPolicy(PasswordRules{Length: 8, MinLower: 1,
			MinUpper: 2, MinDigits: 1, MinSymbols: 1, Symbols: "-"}), "abcdefgh",
			[]string{"password needs at least 2 uppercase letters",
				"password needs at least 1 digit", "password needs at least 1 symbol"}},
		{"password symbol not allowed", passwordPolicy(rules(8)), "aB3-xyz$",
			[]string{"password contains a character that is not a letter, " +
				"a digit or one of the allowed symbols"}},
		{"password not ascii", passwordPolicy(rules(8)), "aB3-xyzé",
			[]string{"password contains a character that is not a letter, " +
				"a digit or one of the allowed symbols"}},
		{"password excluded", passwordPolicy(look), "aB3-xyzwO0",
			[]string{"password contains a character the policy excludes"}},
		{"password excluded digit not counted", passwordPolicy(look), "aBc-xyzwv0",
			[]string{"password needs at least 1 digit",
				"password contains a character the policy excludes"}},
		{"password counted in characters", passwordPolicy(rules(9)), "aB3-xyzéé",
			[]string{"password contains a character that is not a letter, " +
				"a digit or one of the allowed symbols"}},

		{"pin compliant", Default(model.PIN), "135790", nil},
		{"pin pairs allowed", Default(model.PIN), "124578", nil},
		{"pin no wrap", strictPIN, "9090", nil},
		{"pin wrong length", Default(model.PIN), "13579",
			[]string{"pin must be exactly 6 digits long"}},
		{"pin repeat", Default(model.PIN), "135770",
			[]string{"pin has more than 1 of the same digit in a row"}},
		{"pin ascending", Default(model.PIN), "123579",
			[]string{"pin has an ascending or descending sequence longer than 2 digits"}},
		{"pin descending", Default(model.PIN), "135987",
			[]string{"pin has an ascending or descending sequence longer than 2 digits"}},
		{"pin apart with max_run 1", strictPIN, "1357", nil},
		{"pin ascending pair with max_run 1", strictPIN, "1346",
			[]string{"pin has an ascending or descending sequence longer than 1 digit"}},
		{"pin descending pair with max_run 1", strictPIN, "1310",
			[]string{"pin has an ascending or descending sequence longer than 1 digit"}},
		{"pin letters", Default(model.PIN), "13a790",
			[]string{"pin must hold digits only"}},
		{"pin everything wrong", Default(model.PIN), "1234/000",
			[]string{"pin must be exactly 6 digits long", "pin must hold digits only",
				"pin has more than 1 of the same digit in a row",
				"pin has an ascending or descending sequence longer than 2 digits"}},

		{"ed25519 compliant", Default(model.SSHKey), ed, nil},
		{"ed25519 pkcs8 compliant", Default(model.SSHKey), pkcs8PEM(t, newEd25519(t)), nil},
		{"ed25519 for rsa", sshPolicy(algRSA, 3072), ed,
			[]string{"ssh key is ed25519; the policy requires rsa"}},
		{"rsa for ed25519", Default(model.SSHKey), pkcs1PEM(rsa2048(t)),
			[]string{"ssh key is rsa; the policy requires ed25519"}},
		{"ecdsa for ed25519", Default(model.SSHKey), ecPEM(t, newECDSA(t)),
			[]string{"ssh key is ecdsa; the policy requires ed25519"}},
		{"rsa too small", sshPolicy(algRSA, 3072), pkcs1PEM(rsa2048(t)),
			[]string{"rsa key has 2048 bits; the policy requires at least 3072"}},
		{"rsa 3072", sshPolicy(algRSA, 3072), string(generatedRSA3072(t).Reveal()), nil},
		{"rsa 3072 for 4096", sshPolicy(algRSA, 4096), string(generatedRSA3072(t).Reveal()),
			[]string{"rsa key has 3072 bits; the policy requires at least 4096"}},
		{"ssh key garbage", Default(model.SSHKey), "not a key",
			[]string{"ssh key is not an unencrypted private key in PEM form"}},
		{"ssh key encrypted", Default(model.SSHKey), encryptedPEM(t, newEd25519(t)),
			[]string{"ssh key is not an unencrypted private key in PEM form"}},

		{"invalid policy", pinPolicy(PINRules{Length: 2, MaxRepeat: 1, MaxRun: 1}), "1234",
			[]string{`cannot check against this policy: invalid policy "test": ` +
				"pin length 2 is outside 4 to 64; choose a length in that range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Check(secret.FromString(tt.value))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Check() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCheckHidesValue(t *testing.T) {
	// Each pair breaks the same rules with different characters, so the
	// messages must be the same if they name only the rules.
	tests := []struct {
		name   string
		policy Policy
		a, b   string
	}{
		{"password", passwordPolicy(PasswordRules{Length: 12, MinDigits: 2, Symbols: "-",
			Exclude: "xy"}), "qwe€x", "zzz¥y"},
		{"pin", Default(model.PIN), "a99", "b44"},
		{"ssh key", Default(model.SSHKey), "secret-one", "secret-two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Check(secret.FromString(tt.a))
			want := tt.policy.Check(secret.FromString(tt.b))
			if len(got) == 0 {
				t.Fatal("Check() found no violation")
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("messages depend on the value (-a +b):\n%s", diff)
			}
			for _, m := range got {
				if strings.Contains(m, tt.a) {
					t.Errorf("message %q holds the value", m)
				}
			}
		})
	}
}

func TestCheckFormat(t *testing.T) {
	ed := newEd25519(t)
	edPEM := openSSHPEM(t, ed)
	tests := []struct {
		name  string
		typ   model.CredentialType
		value string
		want  string // part of the error message; "" means valid
	}{
		{"password", model.Password, "correct horse", ""},
		{"password one byte", model.Password, "x", ""},
		{"password longest", model.Password, strings.Repeat("x", 1024), ""},
		{"password unicode", model.Password, "pässwörd€", ""},
		{"password empty", model.Password, "", "password must be 1 to 1024 bytes long"},
		{"password too long", model.Password, strings.Repeat("x", 1025), "1 to 1024 bytes"},
		{"password bad utf-8", model.Password, "abc\xff", "not valid UTF-8"},
		{"password newline", model.Password, "abc\n", "control character"},
		{"password nul", model.Password, "a\x00b", "control character"},
		{"password tab", model.Password, "a\tb", "control character"},
		{"password delete", model.Password, "a\x7fb", "control character"},
		{"password c1 control", model.Password, "a\u0085b", "control character"},

		{"pin", model.PIN, "1234", ""},
		{"pin with letters", model.PIN, "12ab", ""},
		{"pin longest", model.PIN, strings.Repeat("1", 64), ""},
		{"pin empty", model.PIN, "", "pin must be 1 to 64 characters long"},
		{"pin too long", model.PIN, strings.Repeat("1", 65), "1 to 64"},
		{"pin newline", model.PIN, "1234\n", "printable ASCII"},
		{"pin full-width digits", model.PIN, "１２３４", "printable ASCII"},

		{"openssh ed25519", model.SSHKey, edPEM, ""},
		{"openssh rsa", model.SSHKey, openSSHPEM(t, rsa2048(t)), ""},
		{"pkcs8 ed25519", model.SSHKey, pkcs8PEM(t, ed), ""},
		{"pkcs8 rsa", model.SSHKey, pkcs8PEM(t, rsa2048(t)), ""},
		{"pkcs1 rsa", model.SSHKey, pkcs1PEM(rsa2048(t)), ""},
		{"ec", model.SSHKey, ecPEM(t, newECDSA(t)), ""},
		{"white space after", model.SSHKey, edPEM + "\n \n", ""},
		{"white space before", model.SSHKey, "\n" + edPEM, "must start with its -----BEGIN"},
		{"encrypted", model.SSHKey, encryptedPEM(t, ed), "protected by a passphrase"},
		{"garbage", model.SSHKey, "hunter2", "not a private key in PEM form"},
		{"public key", model.SSHKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA", "PEM form"},
		{"text before", model.SSHKey, "key:\n" + edPEM, "must start with its -----BEGIN"},
		{"text after", model.SSHKey, edPEM + "more", "has text after its PEM block"},
		{"two keys", model.SSHKey, edPEM + edPEM, "has text after its PEM block"},
		{"certificate", model.SSHKey, "-----BEGIN CERTIFICATE-----\nAAAA\n" +
			"-----END CERTIFICATE-----\n", "not a private key in OpenSSH, PKCS#8"},
		{"huge", model.SSHKey, strings.Repeat("A", 16<<10+1), "longer than 16384 bytes"},

		{"unknown type", "otp", "123456", `unknown credential type "otp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFormat(tt.typ, secret.FromString(tt.value))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckFormat() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("CheckFormat() = %v, want an ErrInvalidValue", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckFormat() = %q, want it to contain %q", err, tt.want)
			}
			if len(tt.value) > 2 && strings.Contains(err.Error(), tt.value) {
				t.Errorf("CheckFormat() error holds the value")
			}
		})
	}
}

func TestPublicKey(t *testing.T) {
	ed := newEd25519(t)
	edPub, err := ssh.NewPublicKey(ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := ssh.NewPublicKey(rsa2048(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	authorized := func(k ssh.PublicKey) string {
		return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n")
	}
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr bool
	}{
		{"openssh ed25519", openSSHPEM(t, ed), authorized(edPub), false},
		{"pkcs8 ed25519", pkcs8PEM(t, ed), authorized(edPub), false},
		{"pkcs1 rsa", pkcs1PEM(rsa2048(t)), authorized(rsaPub), false},
		{"encrypted", encryptedPEM(t, ed), "", true},
		{"garbage", "hunter2", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PublicKey(secret.FromString(tt.value))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidValue) {
					t.Errorf("PublicKey() error = %v, want an ErrInvalidValue", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PublicKey() error: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("PublicKey() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestPublicKeyOfGenerated(t *testing.T) {
	tests := []struct {
		name   string
		value  func(t *testing.T) secret.Value
		prefix string
	}{
		{"ed25519", func(t *testing.T) secret.Value {
			p := Default(model.SSHKey)
			v, err := p.Generate()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}, "ssh-ed25519 AAAA"},
		{"rsa", func(t *testing.T) secret.Value { return generatedRSA3072(t) }, "ssh-rsa AAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PublicKey(tt.value(t))
			if err != nil {
				t.Fatalf("PublicKey() error: %v", err)
			}
			oneLine := strings.Count(got, " ") == 1 && !strings.Contains(got, "\n")
			if !strings.HasPrefix(got, tt.prefix) || !oneLine {
				t.Errorf("PublicKey() = %q, want one line starting %q", got, tt.prefix)
			}
		})
	}
}

func TestNothingPrintsSecret(t *testing.T) {
	p := Default(model.Password)
	v, err := p.Generate()
	if err != nil {
		t.Fatal(err)
	}
	plain := string(v.Reveal())
	printed := []string{
		fmt.Sprintf("%v %+v %#v", p, p, p),
		fmt.Sprintf("%v %+v %#v %s %q %x", v, v, v, v, v, v),
	}
	for _, s := range printed {
		if strings.Contains(s, plain) {
			t.Errorf("printed text holds the generated password: %s", s)
		}
	}
	out, err := json.Marshal(struct {
		Policy Policy       `json:"policy"`
		Value  secret.Value `json:"value"`
	}{p, v})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), plain) {
		t.Errorf("json holds the generated password: %s", out)
	}
}

func TestRandIndex(t *testing.T) {
	tests := []struct {
		n, draws int
	}{
		{1, 100},
		{3, 30000},
		{10, 50000},
		{75, 75000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			counts := make([]int, tt.n)
			for range tt.draws {
				i := randIndex(tt.n)
				if i < 0 || i >= tt.n {
					t.Fatalf("randIndex(%d) = %d, out of range", tt.n, i)
				}
				counts[i]++
			}
			// Each count is binomial; allow about eight standard deviations.
			mean := tt.draws / tt.n
			for i, c := range counts {
				if d := c - mean; d*d > 64*mean {
					t.Errorf("randIndex(%d) gave %d %d times in %d draws, want about %d",
						tt.n, i, c, tt.draws, mean)
				}
			}
		})
	}
}

func BenchmarkGeneratePassword(b *testing.B) {
	for _, length := range []int{24, 64} {
		b.Run(fmt.Sprint(length), func(b *testing.B) {
			p := Default(model.Password)
			p.Password.Length = length
			for b.Loop() {
				v, err := p.Generate()
				if err != nil {
					b.Fatal(err)
				}
				v.Wipe()
			}
		})
	}
}
