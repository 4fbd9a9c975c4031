//go:build tools

// Package tools pins SeaweedFS's weed, the S3-compatible object store the harness starts
// (hack/s3.sh) for the backups' S3 repository.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
