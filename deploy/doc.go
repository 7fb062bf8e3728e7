// Package deploy holds the files of the cluster deployment (docker-compose.yml at the
// repository root, the PostgreSQL init script here; see docs/deployment.md) and the test
// that checks the compose file against the configuration it feeds.
package deploy
