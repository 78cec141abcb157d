package sdk

import (
	"context"
	"errors"
	"io"
	"maps"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/passman-dev/passman/proto/driver/v1"
)

// grpcServer serves a Driver as driverv1.DriverServer. A driver's error
// becomes the response's Failure, so its reason crosses the wire as is.
type grpcServer struct {
	driverv1.UnimplementedDriverServer
	impl Driver
}

func (s *grpcServer) Describe(
	ctx context.Context, _ *driverv1.DescribeRequest,
) (*driverv1.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return &driverv1.DescribeResponse{Failure: toFailure(ctx, err)}, nil
	}
	if d == nil {
		d = &Description{}
	}
	resp := &driverv1.DescribeResponse{
		Name:            d.Name,
		CredentialTypes: d.CredentialTypes,
		Reconcile:       d.Reconcile,
	}
	for _, p := range d.Params {
		resp.Params = append(resp.Params, &driverv1.Param{
			Name: p.Name, Description: p.Description, Required: p.Required,
		})
	}
	return resp, nil
}

func (s *grpcServer) Check(
	ctx context.Context, req *driverv1.CheckRequest,
) (*driverv1.CheckResponse, error) {
	res, err := s.impl.Check(ctx, &CheckRequest{
		JobID:      req.GetJobId(),
		Target:     targetFromProto(req.GetTarget()),
		Account:    req.GetAccount(),
		Credential: credentialFromProto(req.GetCredential()),
	})
	if err != nil {
		return &driverv1.CheckResponse{Failure: toFailure(ctx, err)}, nil
	}
	if res == nil {
		res = &CheckResult{}
	}
	return &driverv1.CheckResponse{HostKey: res.HostKey}, nil
}

func (s *grpcServer) Change(
	ctx context.Context, req *driverv1.ChangeRequest,
) (*driverv1.ChangeResponse, error) {
	res, err := s.impl.Change(ctx, changeFromProto(req))
	if err != nil {
		return &driverv1.ChangeResponse{Failure: toFailure(ctx, err)}, nil
	}
	if res == nil {
		res = &ChangeResult{}
	}
	return &driverv1.ChangeResponse{HostKey: res.HostKey}, nil
}

func (s *grpcServer) Rotate(
	ctx context.Context, req *driverv1.ChangeRequest,
) (*driverv1.RotateResponse, error) {
	res, err := Rotate(ctx, s.impl, changeFromProto(req))
	if err != nil {
		return &driverv1.RotateResponse{ChangeFailure: toFailure(ctx, err)}, nil
	}
	return rotateResponse(res), nil
}

// RotateWhenReady prepares the change of the stream's first message and
// makes it only when the second message says to proceed. A change that
// cannot be prepared is answered at once; one the agent does not let
// proceed is dropped unmade.
func (s *grpcServer) RotateWhenReady(
	stream grpc.ClientStreamingServer[driverv1.RotateStep, driverv1.RotateResponse],
) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetChange() == nil {
		return status.Error(codes.InvalidArgument, "the first message carries no change")
	}
	p, err := Prepare(ctx, s.impl, changeFromProto(first.GetChange()))
	if err != nil {
		return stream.SendAndClose(&driverv1.RotateResponse{ChangeFailure: toFailure(ctx, err)})
	}
	next, err := stream.Recv()
	if err != nil || !next.GetProceed() {
		p.Close()
		if err == nil {
			err = status.Error(codes.Canceled, "the change was not let proceed")
		}
		return err
	}
	res, err := p.Rotate(ctx)
	if err != nil {
		return stream.SendAndClose(&driverv1.RotateResponse{ChangeFailure: toFailure(ctx, err)})
	}
	return stream.SendAndClose(rotateResponse(res))
}

// rotateResponse encodes the result of a rotation whose change succeeded.
func rotateResponse(res *RotateResult) *driverv1.RotateResponse {
	resp := &driverv1.RotateResponse{HostKey: res.HostKey}
	if res.CheckErr != nil {
		resp.CheckFailure = fromError(res.CheckErr)
	}
	return resp
}

func changeFromProto(req *driverv1.ChangeRequest) *ChangeRequest {
	c := &ChangeRequest{
		JobID:   req.GetJobId(),
		Target:  targetFromProto(req.GetTarget()),
		Account: req.GetAccount(),
		Type:    req.GetType(),
		Current: takeSecret(req.GetCurrent()),
		New:     takeSecret(req.GetNew()),
	}
	if r := req.GetReconcile(); r != nil {
		c.Reconcile = &Login{
			Account:    r.GetAccount(),
			Credential: credentialFromProto(r.GetCredential()),
		}
	}
	return c
}

func targetFromProto(t *driverv1.Target) Target {
	return Target{
		Address: t.GetAddress(),
		Params:  maps.Clone(t.GetParams()),
		HostKey: t.GetHostKey(),
	}
}

func credentialFromProto(c *driverv1.Credential) Credential {
	return Credential{Type: c.GetType(), Value: takeSecret(c.GetValue())}
}

// takeSecret moves b into a Secret, zeroing the message's copy.
func takeSecret(b []byte) Secret {
	s := NewSecret(b)
	clear(b)
	return s
}

// toFailure turns a driver's error into a Failure. An *Error keeps its
// reason; a deadline that passed is a timeout; anything else is failed.
func toFailure(ctx context.Context, err error) *driverv1.Failure {
	var e *Error
	switch {
	case errors.As(err, &e):
		return fromError(e)
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &driverv1.Failure{
			Reason: string(ReasonTimeout), Message: "the request's deadline passed",
		}
	default:
		return &driverv1.Failure{Reason: string(ReasonFailed), Message: err.Error()}
	}
}

// grpcClient is a Driver that calls a driver plugin over gRPC.
type grpcClient struct {
	c driverv1.DriverClient
	// noRotate is set once the plugin answered that it has no Rotate, as
	// one built with an older SDK: rotations then take two calls.
	noRotate atomic.Bool
	// noPrepare is set once the plugin answered that it has no
	// RotateWhenReady: changes are then made in one call once allowed.
	noPrepare atomic.Bool
}

var _ Preparer = (*grpcClient)(nil)

// NewGRPCClient returns a Driver that calls the driver served on conn. Its
// errors are all *Error: the driver's own, or one saying why the call did
// not complete (ReasonTimeout when ctx's deadline passed).
func NewGRPCClient(conn grpc.ClientConnInterface) Driver {
	return &grpcClient{c: driverv1.NewDriverClient(conn)}
}

func (c *grpcClient) Describe(ctx context.Context) (*Description, error) {
	resp, err := c.c.Describe(ctx, &driverv1.DescribeRequest{})
	if err != nil {
		return nil, callError(ctx, err)
	}
	if f := resp.GetFailure(); f != nil {
		return nil, fromFailure(f)
	}
	d := &Description{
		Name:            resp.GetName(),
		CredentialTypes: resp.GetCredentialTypes(),
		Reconcile:       resp.GetReconcile(),
	}
	for _, p := range resp.GetParams() {
		d.Params = append(d.Params, Param{
			Name: p.GetName(), Description: p.GetDescription(), Required: p.GetRequired(),
		})
	}
	return d, nil
}

func (c *grpcClient) Check(ctx context.Context, req *CheckRequest) (*CheckResult, error) {
	resp, err := c.c.Check(ctx, &driverv1.CheckRequest{
		JobId:      req.JobID,
		Target:     targetToProto(req.Target),
		Account:    req.Account,
		Credential: credentialToProto(req.Credential),
	})
	if err != nil {
		return nil, callError(ctx, err)
	}
	if f := resp.GetFailure(); f != nil {
		return nil, fromFailure(f)
	}
	return &CheckResult{HostKey: resp.GetHostKey()}, nil
}

func (c *grpcClient) Change(ctx context.Context, req *ChangeRequest) (*ChangeResult, error) {
	resp, err := c.c.Change(ctx, changeToProto(req))
	if err != nil {
		return nil, callError(ctx, err)
	}
	if f := resp.GetFailure(); f != nil {
		return nil, fromFailure(f)
	}
	return &ChangeResult{HostKey: resp.GetHostKey()}, nil
}

// Rotate changes a credential and logs in with the new one in one call to
// the plugin, or in two when the plugin has no Rotate.
func (c *grpcClient) Rotate(ctx context.Context, req *ChangeRequest) (*RotateResult, error) {
	if c.noRotate.Load() {
		return changeThenCheck(ctx, c, req)
	}
	resp, err := c.c.Rotate(ctx, changeToProto(req))
	if status.Code(err) == codes.Unimplemented {
		c.noRotate.Store(true)
		return changeThenCheck(ctx, c, req)
	}
	if err != nil {
		return nil, callError(ctx, err)
	}
	return rotateResult(resp)
}

// rotateResult decodes a plugin's answer to a rotation.
func rotateResult(resp *driverv1.RotateResponse) (*RotateResult, error) {
	if f := resp.GetChangeFailure(); f != nil {
		return nil, fromFailure(f)
	}
	out := &RotateResult{HostKey: resp.GetHostKey()}
	if f := resp.GetCheckFailure(); f != nil {
		out.CheckErr = fromFailure(f)
	}
	return out, nil
}

// Prepare sends the change to the plugin, which gets it ready while the
// caller decides: Rotate lets it proceed, Close drops it. It fails only
// when the plugin cannot be reached; the plugin's own answer comes with
// Rotate.
func (c *grpcClient) Prepare(ctx context.Context, req *ChangeRequest) (Prepared, error) {
	if c.noPrepare.Load() {
		return &deferred{d: c, req: req}, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	stream, err := c.c.RotateWhenReady(sctx)
	if err == nil {
		err = stream.Send(&driverv1.RotateStep{Change: changeToProto(req)})
	}
	// io.EOF says the plugin answered already: Rotate reads the answer.
	if err != nil && !errors.Is(err, io.EOF) {
		cancel()
		return nil, callError(ctx, err)
	}
	return &remotePrepared{c: c, stream: stream, cancel: cancel, req: req}, nil
}

// remotePrepared is a change a plugin is getting ready on a stream.
type remotePrepared struct {
	c      *grpcClient
	stream grpc.ClientStreamingClient[driverv1.RotateStep, driverv1.RotateResponse]
	cancel context.CancelFunc
	req    *ChangeRequest
}

// Rotate lets the plugin make the change and returns its answer. A plugin
// without RotateWhenReady made nothing: the change is then made with
// Rotate.
func (p *remotePrepared) Rotate(ctx context.Context) (*RotateResult, error) {
	defer p.cancel()
	stop := context.AfterFunc(ctx, p.cancel)
	defer stop()
	// A failed send shows in the answer: the plugin answered already, or
	// the stream broke.
	_ = p.stream.Send(&driverv1.RotateStep{Proceed: true})
	resp, err := p.stream.CloseAndRecv()
	if status.Code(err) == codes.Unimplemented {
		p.c.noPrepare.Store(true)
		return p.c.Rotate(ctx, p.req)
	}
	if err != nil {
		return nil, callError(ctx, err)
	}
	return rotateResult(resp)
}

// Close drops the change: the stream ends without leave to proceed.
func (p *remotePrepared) Close() { p.cancel() }

func changeToProto(req *ChangeRequest) *driverv1.ChangeRequest {
	c := &driverv1.ChangeRequest{
		JobId:   req.JobID,
		Target:  targetToProto(req.Target),
		Account: req.Account,
		Type:    req.Type,
		Current: req.Current.Reveal(),
		New:     req.New.Reveal(),
	}
	if r := req.Reconcile; r != nil {
		c.Reconcile = &driverv1.Login{
			Account:    r.Account,
			Credential: credentialToProto(r.Credential),
		}
	}
	return c
}

func targetToProto(t Target) *driverv1.Target {
	return &driverv1.Target{Address: t.Address, Params: t.Params, HostKey: t.HostKey}
}

func credentialToProto(c Credential) *driverv1.Credential {
	return &driverv1.Credential{Type: c.Type, Value: c.Value.Reveal()}
}

// fromError turns an *Error into a Failure; no reason is failed.
func fromError(e *Error) *driverv1.Failure {
	r := e.Reason
	if r == "" {
		r = ReasonFailed
	}
	return &driverv1.Failure{Reason: string(r), Message: e.Message}
}

// fromFailure turns a Failure back into the driver's *Error.
func fromFailure(f *driverv1.Failure) *Error {
	r := Reason(f.GetReason())
	if r == "" {
		r = ReasonFailed
	}
	return &Error{Reason: r, Message: f.GetMessage()}
}

// callError explains a call that did not complete as an *Error.
func callError(ctx context.Context, err error) *Error {
	code, msg := status.Code(err), status.Convert(err).Message()
	switch {
	case code == codes.DeadlineExceeded || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Errorf(ReasonTimeout, "the driver did not answer before the deadline")
	case code == codes.Canceled:
		return Errorf(ReasonFailed, "the request was canceled")
	case code == codes.Unavailable:
		return Errorf(ReasonFailed, "the driver plugin is unavailable: %s", msg)
	default:
		return Errorf(ReasonFailed, "calling the driver plugin: %s", msg)
	}
}
