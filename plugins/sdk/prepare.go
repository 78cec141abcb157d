package sdk

import "context"

// Preparer is a Driver that can get a change ready before it may make it.
// The agent asks for that while its server records that the job starts,
// and makes or drops the change once the server has answered, so that
// the target's first round trips overlap PassMan's own. A driver
// typically connects and logs in with the credential the change logs in
// with.
type Preparer interface {
	// Prepare gets the change req asks for ready, and must change nothing
	// on the target: the change may never be allowed. It fails as Change
	// would for what it found, such as ReasonAuthFailed when the login
	// was refused. ctx bounds the whole change, the Prepared's calls
	// included.
	Prepare(ctx context.Context, req *ChangeRequest) (Prepared, error)
}

// Prepared is a change that Prepare got ready. Exactly one of Rotate and
// Close is called, once.
type Prepared interface {
	// Rotate makes the change and then logs in with the new credential,
	// as Rotator.Rotate does.
	Rotate(ctx context.Context) (*RotateResult, error)
	// Close drops the change, unmade, and frees what Prepare took.
	Close()
}

// Prepare gets a change ready with d: through d's own Prepare when it is a
// Preparer, or else as a Prepared whose Rotate is Rotate with d.
func Prepare(ctx context.Context, d Driver, req *ChangeRequest) (Prepared, error) {
	if p, ok := d.(Preparer); ok {
		return p.Prepare(ctx, req)
	}
	return &deferred{d: d, req: req}, nil
}

// deferred is a change prepared by a driver that cannot prepare one: it
// is all made in Rotate.
type deferred struct {
	d   Driver
	req *ChangeRequest
}

func (p *deferred) Rotate(ctx context.Context) (*RotateResult, error) {
	return Rotate(ctx, p.d, p.req)
}

func (p *deferred) Close() {}
