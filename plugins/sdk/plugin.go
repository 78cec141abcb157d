package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	driverv1 "github.com/passman-dev/passman/proto/driver/v1"
)

// PluginName is the key of the driver plugin in the go-plugin plugin map
// that a driver serves and an agent dispenses.
const PluginName = "driver"

// Handshake is what a driver process and the agent that starts it must
// agree on before they talk. ProtocolVersion is the version of
// proto/driver/v1; the magic cookie only keeps a driver from starting as
// an ordinary program by mistake, it is no security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PASSMAN_DRIVER_PLUGIN",
	MagicCookieValue: "c2feadc01b9bf25489c924117d3d585f2a183383d33d7940",
}

// Plugin is the go-plugin plugin that carries a Driver over gRPC. On the
// driver's side Impl is the driver served; on the agent's side Impl is
// unused and Dispense returns a Driver that calls the plugin process.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin

	// Impl is the driver to serve. Nil on the agent's side.
	Impl Driver
}

// GRPCServer registers the driver with the plugin's gRPC server.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: no driver to serve")
	}
	driverv1.RegisterDriverServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Driver that calls the plugin over conn.
func (p *Plugin) GRPCClient(
	_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn,
) (any, error) {
	return NewGRPCClient(conn), nil
}

// PluginSet returns the plugin map a driver process serves d with, or,
// with d nil, the one an agent starts driver processes with.
func PluginSet(d Driver) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &Plugin{Impl: d}}
}
