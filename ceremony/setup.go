package ceremony

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Validate checks an activation's set-up. Nothing is written until it
// passes, so a rejected set-up can be corrected and started again with the
// same ceremony identifier.
func (cfg ActivationConfig) Validate() error {
	if err := CheckQuorum(cfg.Custodians, cfg.Quorum); err != nil {
		return err
	}
	return checkSetup(cfg.HSMName, cfg.CeremonyID, cfg.Witness)
}

// Validate checks a recovery's set-up (see ActivationConfig.Validate).
func (cfg RecoveryConfig) Validate() error {
	return checkSetup(cfg.HSMName, cfg.CeremonyID, cfg.Witness)
}

func checkSetup(hsm, id, witness string) error {
	if !hsmNameOK(hsm) {
		return fmt.Errorf("HSM name %q is not an Azure resource name (letters, digits and hyphens)", hsm)
	}
	if strings.TrimSpace(id) == "" {
		return errors.New("the ceremony needs an identifier (for example HSM name and date)")
	}
	if strings.TrimSpace(witness) == "" {
		return errors.New("a ceremony needs a witness: name them at set-up")
	}
	return nil
}

// transcriptFor validates first, then refuses a ceremony whose transcript
// already exists (a ceremony identifier used before), then creates it.
func transcriptFor(dir string, mode Mode, kind, id, hsm string, validate func() error) (*TranscriptRecorder, error) {
	if err := validate(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, mode.FileName(fmt.Sprintf("%s-%s-transcript.jsonl", safeName(id), kind)))
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("ceremony %q already has a transcript (%s): each ceremony gets its own identifier", id, path)
	}
	return OpenTranscript(dir, mode, kind, id, hsm)
}

// StartActivation validates the set-up, then opens the ceremony's
// transcript in dir and starts the activation. A rejected set-up writes
// nothing.
func StartActivation(dir string, cfg ActivationConfig, tokens *token.Manager) (*Activation, error) {
	rec, err := transcriptFor(dir, cfg.Mode, "activation", cfg.CeremonyID, cfg.HSMName, cfg.Validate)
	if err != nil {
		return nil, err
	}
	a, err := NewActivation(cfg, tokens, rec)
	if err != nil {
		rec.Close(Closing{Ending: Cancelled, Actor: System, Reason: "the set-up could not be recorded: " + oneLine(err.Error())})
		return nil, err
	}
	return a, nil
}

// StartRecovery validates the set-up, then opens the ceremony's transcript
// in dir and starts the recovery. A rejected set-up writes nothing.
func StartRecovery(dir string, cfg RecoveryConfig, tokens *token.Manager) (*Recovery, error) {
	rec, err := transcriptFor(dir, cfg.Mode, "recovery", cfg.CeremonyID, cfg.HSMName, cfg.Validate)
	if err != nil {
		return nil, err
	}
	r, err := NewRecovery(cfg, tokens, rec)
	if err != nil {
		rec.Close(Closing{Ending: Cancelled, Actor: System, Reason: "the set-up could not be recorded: " + oneLine(err.Error())})
		return nil, err
	}
	return r, nil
}
