package api

// Secret is the body of POST, PUT and DELETE /system/secrets and one element
// of GET /system/secrets (reference §2.3). Listings never carry Value or
// RawValue. RawValue is base64 in JSON and wins over Value when non-empty.
type Secret struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Value     string `json:"value,omitempty"`
	RawValue  []byte `json:"rawValue,omitempty"`
}

// Bytes returns the secret's content: RawValue when non-empty, else Value.
func (s Secret) Bytes() []byte {
	if len(s.RawValue) > 0 {
		return s.RawValue
	}
	return []byte(s.Value)
}
