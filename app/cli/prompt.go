package cli

import (
	"context"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// pinPrompt turns the terminal prompt into a token.PINFunc. The person sees
// which token asks, what for, and how many tries are left.
func pinPrompt(env *Env) token.PINFunc {
	return func(ctx context.Context, req token.PINRequest) ([]byte, error) {
		if env.ReadSecret == nil {
			return nil, fmt.Errorf("a %s is needed for %s and there is no terminal to ask on", req.What, req.Token)
		}
		prompt := fmt.Sprintf("%s for %s", req.What, req.Token)
		if req.Reason != "" {
			prompt += " (" + req.Reason + ")"
		}
		if req.RetriesLeft >= 0 {
			prompt += fmt.Sprintf(", %d tries left", req.RetriesLeft)
		}
		return env.ReadSecret(prompt + ": ")
	}
}
