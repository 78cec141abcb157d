// Command passman-driver-redis is the redis driver plugin. PassMan agents
// start it; run by hand it only says that it is a plugin.
package main

import (
	"github.com/passman-dev/passman/plugins/redis"
	"github.com/passman-dev/passman/plugins/sdk"
)

func main() { sdk.Serve(redis.New()) }
