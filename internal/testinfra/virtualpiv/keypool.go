package virtualpiv

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
)

// KeyPool hands out RSA keys generated ahead of time, in the background,
// so that tests do not wait for RSA-3072/4096 generation on the critical
// path. Every key is handed out once. Its Key method is an RSAKeySource.
type KeyPool struct {
	mu      sync.Mutex
	pending map[int]int
	ready   map[int]chan *rsa.PrivateKey
}

// NewKeyPool returns an empty pool; Warm fills it.
func NewKeyPool() *KeyPool {
	return &KeyPool{pending: map[int]int{}, ready: map[int]chan *rsa.PrivateKey{}}
}

func (p *KeyPool) channel(bits int) chan *rsa.PrivateKey {
	ch, ok := p.ready[bits]
	if !ok {
		ch = make(chan *rsa.PrivateKey, 64)
		p.ready[bits] = ch
	}
	return ch
}

// Warm starts generating n keys of the given size in the background.
func (p *KeyPool) Warm(bits, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.channel(bits)
	if p.pending[bits]+n > cap(ch) {
		n = cap(ch) - p.pending[bits]
	}
	p.pending[bits] += n
	for i := 0; i < n; i++ {
		go func() {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				k = nil
			}
			ch <- k
		}()
	}
}

// Key returns a warmed key of the size, waiting for one being generated,
// or generates one now when none is on its way.
func (p *KeyPool) Key(bits int) (*rsa.PrivateKey, error) {
	if bits < 1024 || bits > 4096 {
		return nil, fmt.Errorf("virtualpiv: no RSA-%d keys in the pool", bits)
	}
	p.mu.Lock()
	if p.pending[bits] > 0 {
		p.pending[bits]--
		ch := p.channel(bits)
		p.mu.Unlock()
		k := <-ch
		if k == nil {
			return nil, errors.New("virtualpiv: background RSA key generation failed")
		}
		return k, nil
	}
	p.mu.Unlock()
	return rsa.GenerateKey(rand.Reader, bits)
}
