package file_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/passman-dev/passman/internal/logbuf"
	"github.com/passman-dev/passman/plugins/file"
	"github.com/passman-dev/passman/plugins/sdk"
	"github.com/passman-dev/passman/plugins/sdk/sdktest"
)

// TestConformance runs the SDK's conformance suite against the file
// driver, in this process and as the plugin an agent starts.
func TestConformance(t *testing.T) {
	t.Run("in process", func(t *testing.T) {
		tgt := conformanceTarget(t)
		var logs logbuf.Buffer
		tgt.Logs = logs.String
		d := file.NewWithLogger(hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}))
		sdktest.Run(t, d, tgt)
	})
	t.Run("plugin", func(t *testing.T) {
		sdktest.RunPlugin(t, sdktest.BuildPlugin(t, "./cmd/passman-driver-file", "file"), conformanceTarget(t))
	})
}

// conformanceTarget returns an env file holding a password under
// DB_PASSWORD among other entries, as a target for the suite.
func conformanceTarget(t *testing.T) sdktest.Target {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.env")
	current := sdk.NewSecret([]byte("Initial-" + rand.Text()))
	writeEnv(t, path, current)
	return sdktest.Target{
		Target: sdk.Target{
			Address: "localhost",
			Params:  map[string]string{file.ParamPath: path, file.ParamKey: "DB_PASSWORD"},
		},
		Account: "app",
		Type:    sdk.Password,
		Current: current,
		// Values that need quoting, but no single quote, so that
		// writeEnv can write them in single quotes.
		NewValue: func() sdk.Secret {
			return sdk.NewSecret([]byte(rand.Text()[:12] + ` #"$x\=` + rand.Text()[:12]))
		},
		Reset: func(t *testing.T, value sdk.Secret) { writeEnv(t, path, value) },
	}
}

// writeEnv writes the env file at path, with value in single quotes.
func writeEnv(t *testing.T, path string, value sdk.Secret) {
	t.Helper()
	v := string(value.Reveal())
	if strings.ContainsAny(v, "'\n") {
		t.Fatal("writeEnv cannot write a value with a single quote or a newline")
	}
	content := "# app settings\nAPP_NAME=demo\nDB_PASSWORD='" + v + "' # rotated\nDB_HOST=db\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
