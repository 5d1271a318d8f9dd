# Requirement: the proof is the contract's (docs/protocol.md section 3), http:// is refused to
# anything but loopback, refusals carry the service's code and detail as a stable
# FullyQualifiedErrorId, 429 and 202 are waited out by their Retry-After under -Wait only, the
# device description is sent, no secret reaches any stream, and the state is private (0700/0600).
# The service is replaced here by a mock of the one function that sends HTTP; the real service
# is in Integration.Tests.ps1.
BeforeAll {
    Import-Module (Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth/CmgTokenAuth.psd1') -Force
    . (Join-Path $PSScriptRoot 'support/TestHelpers.ps1')
    # Never the real state folder of whoever runs the tests.
    $env:CMG_TOKEN_AUTH_STATE_DIR = Join-Path $TestDrive 'first'
    $script:fakeToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZXZpY2UifQ.c2lnbmF0dXJlLWRldmljZS10b2tlbg'
    $script:fakeBulk = 'eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJidWxrIn0.c2lnbmF0dXJlLWJ1bGstdG9rZW4'
    function New-FakeAnswer {
        param([int]$Status, [string]$Body, [Nullable[int]]$RetryAfter = $null, [string]$ContentType = 'application/json')
        [pscustomobject]@{ StatusCode = $Status; RetryAfterSeconds = $RetryAfter; ContentType = $ContentType; Body = $Body }
    }
    function New-FakeTokenBody {
        param([string]$Token = $script:fakeToken, [int]$RenewInDays = 30)
        $now = [System.DateTimeOffset]::UtcNow
        '{{"deviceId":"0b7e2c4a-0000-8000-8000-000000000001","token":"{0}","expiresAt":"{1}","renewAfter":"{2}"}}' -f $Token, $now.AddDays(90).ToString('o'), $now.AddDays($RenewInDays).ToString('o')
    }
    function Set-FakeRenewalDue {
        # The saved token's renewAfter a minute ago, written through the module's own state code.
        $state = Get-Content -Raw (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'token.json') | ConvertFrom-Json
        $state.renewAfter = [System.DateTimeOffset]::UtcNow.AddMinutes(-1).ToString('o')
        InModuleScope CmgTokenAuth -Parameters @{ State = $state } {
            $table = [ordered]@{}
            foreach ($p in $State.PSObject.Properties) { $table[$p.Name] = $p.Value }
            Save-CmgState -Name 'token' -State $table
        }
    }
    function New-FakeProblem {
        param([int]$Status, [string]$Code, [string]$Detail)
        '{{"type":"urn:cmg-token-auth:problem:{0}","title":"t","status":{1},"detail":"{2}","code":"{0}"}}' -f $Code, $Status, $Detail
    }
}

Describe 'CmgTokenAuth without a service' {
    BeforeEach {
        $env:CMG_TOKEN_AUTH_STATE_DIR = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
    }

    AfterAll {
        Remove-Item Env:\CMG_TOKEN_AUTH_STATE_DIR -ErrorAction SilentlyContinue
    }

    Describe 'The proof of possession' {
        BeforeAll {
            New-CmgDeviceIdentity -KeyAlgorithm RSA | Out-Null
            $script:rsaState = $env:CMG_TOKEN_AUTH_STATE_DIR
        }

        It 'is the contract''s compact JWS: header alg, typ, x5c in that order; claims htm, htu, iat, jti, ath' {
            $env:CMG_TOKEN_AUTH_STATE_DIR = $script:rsaState
            $proof = InModuleScope CmgTokenAuth -Parameters @{ Token = $script:fakeToken } {
                New-CmgProof -Identity (Get-CmgIdentity) -Method 'post' -Url 'https://cmg.contoso.com/api/renew' -BearerToken $Token -Jti 'a-jti-of-sixteen-chars' -IssuedAt 1700000000
            }
            $jws = Split-TestJws $proof
            $jws.HeaderJson | Should -Match '^\{"alg":"RS256","typ":"device-proof\+jwt","x5c":\["[A-Za-z0-9+/=]+"\]\}$'
            $ath = Get-TestSha256Base64Url ([System.Text.Encoding]::ASCII.GetBytes($script:fakeToken))
            $jws.PayloadJson | Should -BeExactly ('{"htm":"POST","htu":"https://cmg.contoso.com/api/renew","iat":1700000000,"jti":"a-jti-of-sixteen-chars","ath":"' + $ath + '"}')
            $proof | Should -Match '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
            Test-TestJwsSignature $proof | Should -BeTrue
        }

        It 'has no ath without a bearer token, a fresh GUID jti and the current iat' {
            $env:CMG_TOKEN_AUTH_STATE_DIR = $script:rsaState
            $proofs = InModuleScope CmgTokenAuth {
                $identity = Get-CmgIdentity
                @(
                    (New-CmgProof -Identity $identity -Method 'POST' -Url 'https://cmg.contoso.com/api/register/internal'),
                    (New-CmgProof -Identity $identity -Method 'POST' -Url 'https://cmg.contoso.com/api/register/internal')
                )
            }
            $first = (Split-TestJws $proofs[0]).Payload
            $second = (Split-TestJws $proofs[1]).Payload
            $first.PSObject.Properties.Name | Should -Be @('htm', 'htu', 'iat', 'jti')
            $first.jti | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            $second.jti | Should -Not -Be $first.jti
            [math]::Abs($first.iat - [System.DateTimeOffset]::UtcNow.ToUnixTimeSeconds()) | Should -BeLessOrEqual 5
        }

        It 'is signed ES256 (r || s, 64 bytes) by an EC P-256 key' {
            New-CmgDeviceIdentity -KeyAlgorithm ECDsaP256 | Out-Null
            $proof = InModuleScope CmgTokenAuth { New-CmgProof -Identity (Get-CmgIdentity) -Method 'POST' -Url 'https://cmg.contoso.com/api/authenticate' -BearerToken 'x.y.z' }
            $jws = Split-TestJws $proof
            $jws.Header.alg | Should -Be 'ES256'
            $jws.Signature.Length | Should -Be 64
            Test-TestJwsSignature $proof | Should -BeTrue
        }

        It 'escapes JSON strings as JSON.stringify does, whatever the PowerShell version' -TestCases @(
            @{ Value = 'plain'; Json = '"plain"' }
            @{ Value = 'a"b\c'; Json = '"a\"b\\c"' }
            @{ Value = "tab`tnl`ncr`r"; Json = '"tab\tnl\ncr\r"' }
            @{ Value = "bell$([char]7)"; Json = '"bell\u0007"' }
            @{ Value = '<&>''/'; Json = '"<&>''/"' }
            @{ Value = 'é✓'; Json = '"é✓"' }
        ) {
            InModuleScope CmgTokenAuth -Parameters @{ Value = $Value } { ConvertTo-CmgJsonString $Value } | Should -BeExactly $Json
        }
    }

    Describe 'The service URL' {
        It 'takes <Url> as <Expected>' -TestCases @(
            @{ Url = 'https://cmg.contoso.com'; Expected = 'https://cmg.contoso.com' }
            @{ Url = 'https://cmg.contoso.com/'; Expected = 'https://cmg.contoso.com' }
            @{ Url = 'https://contoso.com/cmg/'; Expected = 'https://contoso.com/cmg' }
            @{ Url = 'http://localhost:7071'; Expected = 'http://localhost:7071' }
            @{ Url = 'http://127.0.0.1:7071'; Expected = 'http://127.0.0.1:7071' }
            @{ Url = 'http://[::1]:7071'; Expected = 'http://[::1]:7071' }
        ) {
            InModuleScope CmgTokenAuth -Parameters @{ Url = $Url } { Resolve-CmgServiceUrl -ServiceUrl $Url } | Should -BeExactly $Expected
        }

        It 'refuses <Url> with <Code>' -TestCases @(
            @{ Url = 'http://cmg.contoso.com'; Code = 'insecure_url' }
            @{ Url = 'http://10.0.0.5:7071'; Code = 'insecure_url' }
            @{ Url = 'cmg.contoso.com'; Code = 'invalid_service_url' }
            @{ Url = 'ftp://cmg.contoso.com'; Code = 'invalid_service_url' }
            @{ Url = 'https://cmg.contoso.com/api'; Code = 'invalid_service_url' }
            @{ Url = 'https://cmg.contoso.com/?x=1'; Code = 'invalid_service_url' }
        ) {
            { InModuleScope CmgTokenAuth -Parameters @{ Url = $Url } { Resolve-CmgServiceUrl -ServiceUrl $Url } } | Should -Throw -ErrorId ('CmgTokenAuth.' + $Code)
        }

        It 'takes http:// to another host with -AllowHttp' {
            InModuleScope CmgTokenAuth { Resolve-CmgServiceUrl -ServiceUrl 'http://cmg.lab.local' -AllowHttp } | Should -Be 'http://cmg.lab.local'
        }

        It 'refuses http:// to a non-loopback host before making a key or sending anything' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { throw 'must not be called' }
            { Register-CmgDevice -ServiceUrl 'http://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 } | Should -Throw -ErrorId 'CmgTokenAuth.insecure_url,Register-CmgDevice'
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 0 -Exactly
            Test-Path $env:CMG_TOKEN_AUTH_STATE_DIR | Should -BeFalse
        }

        It 'refuses what cannot be a bulk token without showing it' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { throw 'must not be called' }
            $caught = $null
            try { Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken 'not a token secret123' } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'CmgTokenAuth.invalid_registration_token,Register-CmgDevice'
            $caught.Exception.Message | Should -Not -Match 'secret123'
            Test-Path $env:CMG_TOKEN_AUTH_STATE_DIR | Should -BeFalse
        }
    }

    Describe 'Registration against a mocked service' {
        It 'sends the proof and the device description (name, OS, module version) with the bulk token' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 201 -Body (New-FakeTokenBody) }
            $status = Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256
            $status.Status | Should -Be 'Active'
            $status.Registration | Should -Be 'bulk'
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 1 -Exactly -ParameterFilter {
                $body = $Body | ConvertFrom-Json
                $expectedName = $env:COMPUTERNAME
                if (-not $expectedName) { $expectedName = [System.Net.Dns]::GetHostName() }
                $Method -eq 'POST' -and $Uri -eq 'https://cmg.contoso.com/api/register' -and $BearerToken -eq $script:fakeBulk -and
                $body.device.name -eq $expectedName -and $body.device.clientVersion -eq '0.1.0' -and $body.device.os.Length -gt 0 -and
                (Split-TestJws $body.proof).Payload.htu -eq 'https://cmg.contoso.com/api/register'
            }
        }

        It 'turns a problem answer into an error with its code and detail, and stores no token' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 401 -ContentType 'application/problem+json' -Body (New-FakeProblem -Status 401 -Code 'token_blocked' -Detail 'the bulk registration token has been blocked') }
            $caught = $null
            try { Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'CmgTokenAuth.token_blocked,Register-CmgDevice'
            $caught.Exception.Message | Should -Be '401 token_blocked: the bulk registration token has been blocked'
            $caught.TargetObject.Code | Should -Be 'token_blocked'
            $caught.TargetObject.Status | Should -Be 401
            $caught.CategoryInfo.Category | Should -Be 'AuthenticationError'
            (Get-CmgDeviceStatus).Status | Should -Be 'NotRegistered'
        }

        It 'without -Wait, a 429 is the error rate_limited with its Retry-After, and nothing waits' {
            Mock -ModuleName CmgTokenAuth Start-Sleep { }
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 429 -RetryAfter 1234 -ContentType 'application/problem+json' -Body (New-FakeProblem -Status 429 -Code 'rate_limited' -Detail 'too many tokens for this device') }
            $caught = $null
            try { Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -Be 'CmgTokenAuth.rate_limited,Register-CmgDevice'
            $caught.TargetObject.RetryAfterSeconds | Should -Be 1234
            $caught.CategoryInfo.Category | Should -Be 'LimitsExceeded'
            $caught.Exception.Message | Should -Match 'retry after 1234 s'
            Should -Invoke -ModuleName CmgTokenAuth Start-Sleep -Times 0 -Exactly
        }

        It 'with -Wait, waits exactly the Retry-After of a 429, then registers with a fresh proof' {
            $script:answers = [System.Collections.Generic.Queue[object]]::new()
            $script:answers.Enqueue((New-FakeAnswer -Status 429 -RetryAfter 7 -ContentType 'application/problem+json' -Body (New-FakeProblem -Status 429 -Code 'rate_limited' -Detail 'slow down')))
            $script:answers.Enqueue((New-FakeAnswer -Status 201 -Body (New-FakeTokenBody)))
            $script:proofs = [System.Collections.Generic.List[string]]::new()
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { $script:proofs.Add(($Body | ConvertFrom-Json).proof); $script:answers.Dequeue() }
            Mock -ModuleName CmgTokenAuth Start-Sleep { }
            (Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 -Wait).Status | Should -Be 'Active'
            Should -Invoke -ModuleName CmgTokenAuth Start-Sleep -Times 1 -Exactly -ParameterFilter { $Seconds -eq 7 }
            $script:proofs.Count | Should -Be 2
            (Split-TestJws $script:proofs[1]).Payload.jti | Should -Not -Be (Split-TestJws $script:proofs[0]).Payload.jti
        }

        It 'with -Wait, an internal registration waits through 202 pending by its Retry-After' {
            $script:answers = [System.Collections.Generic.Queue[object]]::new()
            $script:answers.Enqueue((New-FakeAnswer -Status 202 -RetryAfter 60 -Body '{"deviceId":"0b7e2c4a-0000-8000-8000-000000000001","status":"pending"}'))
            $script:answers.Enqueue((New-FakeAnswer -Status 201 -Body (New-FakeTokenBody)))
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { $script:answers.Dequeue() }
            Mock -ModuleName CmgTokenAuth Start-Sleep { (Get-CmgDeviceStatus).Status | Should -Be 'Pending' }
            $status = Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -Internal -Wait -KeyAlgorithm ECDsaP256
            $status.Status | Should -Be 'Active'
            $status.Registration | Should -Be 'internal'
            Should -Invoke -ModuleName CmgTokenAuth Start-Sleep -Times 1 -Exactly -ParameterFilter { $Seconds -eq 60 }
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 2 -Exactly -ParameterFilter { $Uri -eq 'https://cmg.contoso.com/api/register/internal' -and -not $PSBoundParameters.ContainsKey('BearerToken') }
        }

        It 'without -Wait, a pending registration is Status Pending, not an error' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 202 -RetryAfter 60 -Body '{"deviceId":"0b7e2c4a-0000-8000-8000-000000000001","status":"pending"}' }
            $status = Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -Internal -KeyAlgorithm ECDsaP256
            $status.Status | Should -Be 'Pending'
            $status.DeviceId | Should -Be '0b7e2c4a-0000-8000-8000-000000000001'
        }

        It 'with -Wait, gives up with wait_timeout when the Retry-After would pass -TimeoutSeconds' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 429 -RetryAfter 3600 -ContentType 'application/problem+json' -Body (New-FakeProblem -Status 429 -Code 'rate_limited' -Detail 'slow down') }
            Mock -ModuleName CmgTokenAuth Start-Sleep { }
            { Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 -Wait -TimeoutSeconds 60 } | Should -Throw -ErrorId 'CmgTokenAuth.wait_timeout,Register-CmgDevice'
            Should -Invoke -ModuleName CmgTokenAuth Start-Sleep -Times 0 -Exactly
        }

        It 'leaves a registered device alone unless -Force' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 201 -Body (New-FakeTokenBody) }
            Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 | Out-Null
            Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 1 -Exactly
            Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 -Force | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 2 -Exactly
        }

        It '-WhatIf makes no key and sends nothing' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { throw 'must not be called' }
            Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -Internal -WhatIf
            New-CmgDeviceIdentity -WhatIf
            Test-Path $env:CMG_TOKEN_AUTH_STATE_DIR | Should -BeFalse
        }
    }

    Describe 'Renewal against a mocked service' {
        BeforeEach {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 201 -Body (New-FakeTokenBody) }
            Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 | Out-Null
        }

        It 'asks nothing before renewAfter; -Force renews with the token, its ath and the device description' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 200 -Body (New-FakeTokenBody -Token 'eyJ0.eyJuZXc.c2ln') }
            (Update-CmgDeviceToken).Renewed | Should -BeFalse
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 0 -Exactly -ParameterFilter { $Uri -like '*/api/renew' }
            (Update-CmgDeviceToken -Force).Renewed | Should -BeTrue
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 1 -Exactly -ParameterFilter {
                $body = $Body | ConvertFrom-Json
                $Uri -eq 'https://cmg.contoso.com/api/renew' -and $BearerToken -eq $script:fakeToken -and
                (Split-TestJws $body.proof).Payload.ath -eq (Get-TestSha256Base64Url ([System.Text.Encoding]::ASCII.GetBytes($script:fakeToken))) -and
                $body.device.clientVersion -eq '0.1.0'
            }
            (Get-Content -Raw (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'token.json') | ConvertFrom-Json).token | Should -Be 'eyJ0.eyJuZXc.c2ln'
        }

        It 'renews by itself once renewAfter has passed' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 200 -Body (New-FakeTokenBody) }
            Set-FakeRenewalDue
            (Get-CmgDeviceStatus).Status | Should -Be 'RenewalDue'
            (Update-CmgDeviceToken).Renewed | Should -BeTrue
            (Get-CmgDeviceStatus).Status | Should -Be 'Active'
        }

        It 'keeps the Retry-After of a 429 and asks nothing before it without -Force' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 429 -RetryAfter 900 -ContentType 'application/problem+json' -Body (New-FakeProblem -Status 429 -Code 'rate_limited' -Detail 'too many tokens') }
            { Update-CmgDeviceToken -Force } | Should -Throw -ErrorId 'CmgTokenAuth.rate_limited,Update-CmgDeviceToken'
            $next = (Get-CmgDeviceStatus).NextAttemptAfter
            ($next - [datetime]::UtcNow).TotalSeconds | Should -BeGreaterThan 890
            ($next - [datetime]::UtcNow).TotalSeconds | Should -BeLessOrEqual 900
            Set-FakeRenewalDue
            (Update-CmgDeviceToken).Renewed | Should -BeFalse
            Should -Invoke -ModuleName CmgTokenAuth Send-CmgHttpRequest -Times 1 -Exactly -ParameterFilter { $Uri -like '*/api/renew' }
        }
    }

    Describe 'Secrets' {
        It 'never writes the bulk token or the device token to output, verbose, warning, information or a transcript' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 201 -Body (New-FakeTokenBody) }
            $transcript = Join-Path $TestDrive 'transcript.txt'
            Start-Transcript -Path $transcript | Out-Null
            try {
                $everything = & {
                    Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 -Verbose
                    Get-CmgDeviceStatus -Verbose | Format-List * | Out-String
                    Update-CmgDeviceToken -Force -Verbose
                } *>&1 | Out-String
            } finally {
                Stop-Transcript | Out-Null
            }
            $everything | Should -Match 'POST https://cmg.contoso.com/api/register'
            $all = $everything + (Get-Content -Raw $transcript)
            $all | Should -Not -Match ([regex]::Escape($script:fakeBulk))
            $all | Should -Not -Match ([regex]::Escape($script:fakeToken))
            $all | Should -Not -Match 'eyJ'
        }
    }

    Describe 'The state folder outside Windows' {
        It 'is created 0700 with the key, certificate, identity and token files 0600' {
            Mock -ModuleName CmgTokenAuth Send-CmgHttpRequest { New-FakeAnswer -Status 201 -Body (New-FakeTokenBody) }
            Register-CmgDevice -ServiceUrl 'https://cmg.contoso.com' -RegistrationToken $script:fakeBulk -KeyAlgorithm ECDsaP256 | Out-Null
            [System.IO.File]::GetUnixFileMode($env:CMG_TOKEN_AUTH_STATE_DIR) | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            $files = Get-ChildItem -Path $env:CMG_TOKEN_AUTH_STATE_DIR -Force
            ($files.Name | Sort-Object) | Should -Be @('device-cert.pem', 'device-key.pem', 'identity.json', 'token.json')
            foreach ($file in $files) {
                [System.IO.File]::GetUnixFileMode($file.FullName) | Should -Be ([System.IO.UnixFileMode]'UserRead, UserWrite') -Because $file.Name
            }
            Get-Content -Raw (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'device-key.pem') | Should -Match '^-----BEGIN PRIVATE KEY-----'
        }

        It 'is refused when group or others may use it' {
            New-Item -ItemType Directory -Path $env:CMG_TOKEN_AUTH_STATE_DIR | Out-Null
            [System.IO.File]::SetUnixFileMode($env:CMG_TOKEN_AUTH_STATE_DIR, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherWrite, OtherExecute')
            { New-CmgDeviceIdentity } | Should -Throw -ErrorId 'CmgTokenAuth.unsafe_state_folder,New-CmgDeviceIdentity'
            @(Get-ChildItem -Path $env:CMG_TOKEN_AUTH_STATE_DIR).Count | Should -Be 0
        }

        It 'New-CmgDeviceIdentity refuses to replace a key without -Force; Reset-CmgDevice deletes key and state' {
            New-CmgDeviceIdentity -KeyAlgorithm ECDsaP256 | Out-Null
            { New-CmgDeviceIdentity } | Should -Throw -ErrorId 'CmgTokenAuth.identity_exists,New-CmgDeviceIdentity'
            $before = (Get-CmgDeviceStatus).Thumbprint
            (New-CmgDeviceIdentity -Force -KeyAlgorithm ECDsaP256).Thumbprint | Should -Not -Be $before
            Reset-CmgDevice -Confirm:$false
            @(Get-ChildItem -Path $env:CMG_TOKEN_AUTH_STATE_DIR).Count | Should -Be 0
            (Get-CmgDeviceStatus).Status | Should -Be 'NotRegistered'
        }
    }
}
