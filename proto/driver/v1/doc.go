// Package driverv1 is the Go code generated from driver.proto: the gRPC
// protocol, version 1, between a PassMan agent and its driver plugins.
// Driver authors use plugins/sdk rather than this package. Regenerate it
// with make proto after changing driver.proto.
package driverv1
