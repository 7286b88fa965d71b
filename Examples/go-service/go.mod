module memdrift.example/go-service

go 1.19
