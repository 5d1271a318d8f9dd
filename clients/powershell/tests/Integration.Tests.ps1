# Requirement: the module speaks the wire contract with the real service - npm start's local host,
# started by test/powershell.module.test.ts for the whole run (CMG_TEST_SERVICE_URL and
# CMG_TEST_ADMIN_KEY; CMG_TEST_MANUAL_* for a second one with manual approval). Registration
# with a bulk token and internally, the issued token verified offline against the JWKS (cnf =
# the certificate), authentication, a replayed proof refused, renewal, the token pacing's 429
# with its Retry-After, revocation's documented error, and Reset-CmgDevice making a new device.
# Without those variables the file is skipped.
BeforeDiscovery {
    $noService = -not $env:CMG_TEST_SERVICE_URL
}

BeforeAll {
    Import-Module (Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth/CmgTokenAuth.psd1') -Force
    . (Join-Path $PSScriptRoot 'support/TestHelpers.ps1')
    $script:url = $env:CMG_TEST_SERVICE_URL
    $script:adminKey = $env:CMG_TEST_ADMIN_KEY
    $env:CMG_TOKEN_AUTH_STATE_DIR = Join-Path $TestDrive 'none'

    function Invoke-Admin {
        param([string]$Method = 'GET', [string]$Path, [string]$Body, [string]$Url = $script:url, [string]$Key = $script:adminKey)
        $request = @{ Method = $Method; Uri = ($Url + '/api/' + $Path); Headers = @{ Authorization = 'Bearer ' + $Key } }
        if ($Body) { $request.Body = $Body; $request.ContentType = 'application/json' }
        Invoke-RestMethod @request
    }

    function Use-Device {
        param([string]$Name)
        $env:CMG_TOKEN_AUTH_STATE_DIR = Join-Path $TestDrive $Name
    }

    function Read-Token {
        (Get-Content -Raw (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'token.json') | ConvertFrom-Json).token
    }

    function Get-Jwks {
        Invoke-RestMethod -Uri ($script:url + '/api/.well-known/jwks.json')
    }

    # Offline verification, as a gateway does it: the key named by kid, only that key's alg.
    function Test-DeviceTokenSignature {
        param([string]$Token)
        $jws = Split-TestJws $Token
        $jwk = @((Get-Jwks).keys | Where-Object { $_.kid -eq $jws.Header.kid })
        if ($jwk.Count -ne 1 -or $jwk[0].alg -ne $jws.Header.alg) { return $false }
        $sha256 = [System.Security.Cryptography.HashAlgorithmName]::SHA256
        switch ($jws.Header.alg) {
            { $_ -eq 'RS256' -or $_ -eq 'PS256' } {
                $rsa = [System.Security.Cryptography.RSA]::Create()
                $parameters = [System.Security.Cryptography.RSAParameters]::new()
                $parameters.Modulus = ConvertFrom-TestBase64Url $jwk[0].n
                $parameters.Exponent = ConvertFrom-TestBase64Url $jwk[0].e
                $rsa.ImportParameters($parameters)
                $padding = [System.Security.Cryptography.RSASignaturePadding]::Pkcs1
                if ($jws.Header.alg -eq 'PS256') { $padding = [System.Security.Cryptography.RSASignaturePadding]::Pss }
                return $rsa.VerifyData($jws.SigningInput, $jws.Signature, $sha256, $padding)
            }
            'ES256' {
                $parameters = [System.Security.Cryptography.ECParameters]::new()
                $parameters.Curve = [System.Security.Cryptography.ECCurve+NamedCurves]::nistP256
                $point = [System.Security.Cryptography.ECPoint]::new()
                $point.X = ConvertFrom-TestBase64Url $jwk[0].x
                $point.Y = ConvertFrom-TestBase64Url $jwk[0].y
                $parameters.Q = $point
                return [System.Security.Cryptography.ECDsa]::Create($parameters).VerifyData($jws.SigningInput, $jws.Signature, $sha256)
            }
        }
        $false
    }
}

AfterAll {
    Remove-Item Env:\CMG_TOKEN_AUTH_STATE_DIR -ErrorAction SilentlyContinue
}

Describe 'CmgTokenAuth against the local host' -Skip:$noService {
    Context 'a device registered with a bulk token' {
        BeforeAll {
            $script:bulk = Invoke-Admin -Method Post -Path 'bulk-tokens' -Body '{"lifetimeMinutes":60,"description":"pester"}'
            Use-Device 'bulk'
            $script:registered = Register-CmgDevice -ServiceUrl $script:url -RegistrationToken $script:bulk.token
        }

        It 'is registered: Active, bulk, a device id, 90 days' {
            $script:registered.Status | Should -Be 'Active'
            $script:registered.Registration | Should -Be 'bulk'
            $script:registered.DeviceId | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            $script:registered.DaysLeft | Should -BeGreaterThan 89
        }

        It 'holds a device token that verifies offline against the JWKS, bound (cnf) to its certificate' {
            $token = Read-Token
            Test-DeviceTokenSignature $token | Should -BeTrue
            $jws = Split-TestJws $token
            $jws.Header.typ | Should -Be 'device+jwt'
            $claims = $jws.Payload
            $claims.sub | Should -Be $script:registered.DeviceId
            $claims.reg | Should -Be 'bulk'
            $claims.brt | Should -Be $script:bulk.id
            ($claims.exp - $claims.iat) | Should -Be (90 * 86400)
            $certificateDer = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new((Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'device-cert.pem')).RawData
            $claims.cnf.'x5t#S256' | Should -Be (Get-TestSha256Base64Url $certificateDer)
            $claims.cnf.'x5t#S256' | Should -Be $script:registered.CertificateSha256
            # A token whose signature was tampered with does not verify.
            $parts = $token.Split('.')
            $flipped = $parts[0] + '.' + $parts[1] + '.' + ($parts[2].Substring(0, 10) + $(if ($parts[2][10] -eq 'A') { 'B' } else { 'A' }) + $parts[2].Substring(11))
            Test-DeviceTokenSignature $flipped | Should -BeFalse
        }

        It 'described itself: name, OS and module version, and Windows'' SHA-1 thumbprint is the device''s' {
            $device = Invoke-Admin -Path ('devices/' + $script:registered.DeviceId)
            $expectedName = $env:COMPUTERNAME
            if (-not $expectedName) { $expectedName = [System.Net.Dns]::GetHostName() }
            $device.name | Should -Be $expectedName
            $device.os | Should -Be ([System.Runtime.InteropServices.RuntimeInformation]::OSDescription.Trim())
            $device.clientVersion | Should -Be '0.1.0'
            $device.thumbprintSha1 | Should -Be $script:registered.Thumbprint
            $device.bulkTokenId | Should -Be $script:bulk.id
        }

        It 'signs the proof byte for byte as the Node.js client does' {
            $root = $env:CMG_TEST_PROJECT_ROOT
            $node = $env:CMG_TEST_NODE
            if (-not $node) { $node = 'node' }
            $identityModule = Join-Path $root 'dist/cli/device/identity.js'
            Test-Path $identityModule | Should -BeTrue -Because 'npm run build makes dist/'
            $target = $script:url + '/api/renew'
            $ours = InModuleScope CmgTokenAuth -Parameters @{ Target = $target } {
                New-CmgProof -Identity (Get-CmgIdentity) -Method POST -Url $Target -BearerToken 'a.b.c' -Jti 'fixed-jti-0123456789' -IssuedAt 1765000000
            }
            $theirs = & $node (Join-Path $PSScriptRoot 'support/signProofWithNode.mjs') $identityModule (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'device-key.pem') (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'device-cert.pem') $target 'a.b.c' 'fixed-jti-0123456789' 1765000000
            $LASTEXITCODE | Should -Be 0
            # RSA PKCS#1 v1.5 signatures are deterministic: the whole JWS is the same.
            $ours | Should -BeExactly $theirs
        }

        It 'repeats the registration with -Force and keeps its device id, taking no second use of the bulk token' {
            $again = Register-CmgDevice -ServiceUrl $script:url -RegistrationToken $script:bulk.token -Force
            $again.DeviceId | Should -Be $script:registered.DeviceId
            (@((Invoke-Admin -Path 'bulk-tokens').items) | Where-Object { $_.id -eq $script:bulk.id }).uses | Should -Be 1
        }

        It 'authenticates with the service' {
            $answer = Invoke-CmgAuthenticatedRequest
            $answer.DeviceId | Should -Be $script:registered.DeviceId
            $answer.Registration | Should -Be 'bulk'
        }

        It 'gives a gateway headers it can relay to /api/authenticate once; the replay is refused proof_replayed' {
            $headers = Invoke-CmgAuthenticatedRequest -HeadersOnly
            ($headers.Keys | Sort-Object) | Should -Be @('Authorization', 'Cmg-Device-Proof')
            $relay = @{
                Method = 'Post'; Uri = ($script:url + '/api/authenticate'); SkipHttpErrorCheck = $true
                Headers = @{ Authorization = $headers.Authorization }; ContentType = 'application/json'
                Body = (@{ proof = $headers.'Cmg-Device-Proof' } | ConvertTo-Json -Compress)
            }
            $first = Invoke-RestMethod @relay -StatusCodeVariable firstStatus
            $firstStatus | Should -Be 200
            $first.deviceId | Should -Be $script:registered.DeviceId
            $second = Invoke-RestMethod @relay -StatusCodeVariable secondStatus
            $secondStatus | Should -Be 401
            $second.code | Should -Be 'proof_replayed'
        }

        It 'sends a gateway request with the device token and a fresh proof' {
            $response = Invoke-CmgAuthenticatedRequest -Uri ($script:url + '/api/health')
            $response.StatusCode | Should -Be 200
        }

        It 'renews with -Force: a new token, still verifiable and bound to the same certificate' {
            $before = Read-Token
            $renewed = Update-CmgDeviceToken -Force
            $renewed.Renewed | Should -BeTrue
            $after = Read-Token
            $after | Should -Not -Be $before
            Test-DeviceTokenSignature $after | Should -BeTrue
            (Split-TestJws $after).Payload.cnf.'x5t#S256' | Should -Be $script:registered.CertificateSha256
            (Invoke-CmgAuthenticatedRequest).DeviceId | Should -Be $script:registered.DeviceId
        }

        It 'meets the token pacing: a 429 rate_limited with its Retry-After, kept so the next run waits' {
            $burst = [int]$env:CMG_TEST_TOKEN_ISSUE_BURST
            if (-not $burst) { $burst = 3 }
            $caught = $null
            # Two tokens are issued already (registration, renewal); the repeat registration of
            # the same certificate counted too.
            for ($attempt = 0; $attempt -le $burst -and $null -eq $caught; $attempt++) {
                try { Update-CmgDeviceToken -Force | Out-Null } catch { $caught = $_ }
            }
            $caught | Should -Not -BeNullOrEmpty -Because ('the service allows {0} tokens per window' -f $burst)
            $caught.FullyQualifiedErrorId | Should -Be 'CmgTokenAuth.rate_limited,Update-CmgDeviceToken'
            $caught.TargetObject.Status | Should -Be 429
            $caught.TargetObject.RetryAfterSeconds | Should -BeGreaterThan 0
            $caught.TargetObject.RetryAfterSeconds | Should -BeLessOrEqual 3600
            $status = Get-CmgDeviceStatus
            $expected = [datetime]::UtcNow.AddSeconds($caught.TargetObject.RetryAfterSeconds)
            [math]::Abs(($status.NextAttemptAfter - $expected).TotalSeconds) | Should -BeLessThan 30
            $status.Status | Should -Be 'Active'
            (Invoke-CmgAuthenticatedRequest).DeviceId | Should -Be $script:registered.DeviceId
        }

        It 'once revoked, is refused device_revoked, and cannot register that certificate again' {
            Invoke-Admin -Method Post -Path ('devices/' + $script:registered.DeviceId + '/revoke') | Out-Null
            $caught = $null
            try { Invoke-CmgAuthenticatedRequest } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'CmgTokenAuth.device_revoked,Invoke-CmgAuthenticatedRequest'
            $caught.TargetObject.Status | Should -Be 403
            $caught.TargetObject.Detail | Should -Not -BeNullOrEmpty
            $caught.CategoryInfo.Category | Should -Be 'PermissionDenied'
            { Register-CmgDevice -ServiceUrl $script:url -Internal -Force } | Should -Throw -ErrorId 'CmgTokenAuth.device_revoked,Register-CmgDevice'
        }

        It 'after Reset-CmgDevice registers as a new device, with a new key' {
            Reset-CmgDevice -Confirm:$false
            (Get-CmgDeviceStatus).Status | Should -Be 'NotRegistered'
            $fresh = Register-CmgDevice -ServiceUrl $script:url -Internal -KeyAlgorithm ECDsaP256
            $fresh.Status | Should -Be 'Active'
            $fresh.Registration | Should -Be 'internal'
            $fresh.DeviceId | Should -Not -Be $script:registered.DeviceId
            $fresh.CertificateSha256 | Should -Not -Be $script:registered.CertificateSha256
            $answer = Invoke-CmgAuthenticatedRequest
            $answer.DeviceId | Should -Be $fresh.DeviceId
            $answer.Registration | Should -Be 'internal'
            (Split-TestJws (Read-Token)).Payload.reg | Should -Be 'internal'
        }
    }

    Context 'errors the service sends' {
        It 'a blocked bulk token is refused token_blocked, with nothing registered' {
            $blocked = Invoke-Admin -Method Post -Path 'bulk-tokens' -Body '{}'
            Invoke-Admin -Method Post -Path ('bulk-tokens/' + $blocked.id + '/block') | Out-Null
            Use-Device 'blocked'
            $caught = $null
            try { Register-CmgDevice -ServiceUrl $script:url -RegistrationToken $blocked.token -KeyAlgorithm ECDsaP256 } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'CmgTokenAuth.token_blocked,Register-CmgDevice'
            $caught.Exception.Message | Should -Match '^401 token_blocked: '
            $caught.Exception.Message | Should -Not -Match ([regex]::Escape($blocked.token))
            (Get-CmgDeviceStatus).Status | Should -Be 'NotRegistered'
        }

        It 'an unreachable service is service_unreachable' {
            Use-Device 'unreachable'
            { Register-CmgDevice -ServiceUrl 'http://127.0.0.1:9' -Internal -KeyAlgorithm ECDsaP256 } | Should -Throw -ErrorId 'CmgTokenAuth.service_unreachable,Register-CmgDevice'
        }
    }

    Context 'internal registration under manual approval' -Skip:(-not $env:CMG_TEST_MANUAL_SERVICE_URL) {
        It 'waits, by the service''s Retry-After, until an administrator approves' {
            $manualUrl = $env:CMG_TEST_MANUAL_SERVICE_URL
            $manualKey = $env:CMG_TEST_MANUAL_ADMIN_KEY
            Use-Device 'manual'
            # The wait is where the administrator acts: the mock approves the pending device
            # instead of sleeping, and the module's next request finds it approved.
            Mock -ModuleName CmgTokenAuth Start-Sleep {
                $pending = Get-CmgDeviceStatus
                $pending.Status | Should -Be 'Pending'
                Invoke-RestMethod -Method Post -Uri ($manualUrl + '/api/devices/' + $pending.DeviceId + '/approve') -Headers @{ Authorization = 'Bearer ' + $manualKey } | Out-Null
            }
            $status = Register-CmgDevice -ServiceUrl $manualUrl -Internal -Wait -KeyAlgorithm ECDsaP256
            $status.Status | Should -Be 'Active'
            $status.Registration | Should -Be 'internal'
            Should -Invoke -ModuleName CmgTokenAuth Start-Sleep -Times 1 -Exactly -ParameterFilter { $Seconds -eq 60 }
            (Invoke-CmgAuthenticatedRequest).DeviceId | Should -Be $status.DeviceId
        }
    }
}
