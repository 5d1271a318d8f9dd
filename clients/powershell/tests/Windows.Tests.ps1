# Requirement: the Windows-only paths - the key in the certificate store, non-exportable, in the
# TPM when there is one; the state folder's ACL; the OS description; the scheduled task - call
# Windows' own commands with exactly the right parameters. These commands do not exist off
# Windows, so each is declared here as an empty stand-in and mocked; the tests assert what the
# module passes them. CI runs them on Linux: they do not prove the commands behave on Windows.
BeforeAll {
    Import-Module (Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth/CmgTokenAuth.psd1') -Force
    . (Join-Path $PSScriptRoot 'support/TestHelpers.ps1')
    $script:manifest = (Get-Module CmgTokenAuth).Path -replace '\.psm1$', '.psd1'

    # Stand-ins with the parameters the module uses, so that mocks can bind and filter on them.
    function global:New-SelfSignedCertificate { param($Subject, $FriendlyName, $CertStoreLocation, $KeyExportPolicy, $KeyUsage, $Type, $TextExtension, $HashAlgorithm, $NotBefore, $NotAfter, $KeyAlgorithm, $KeyLength, $Provider) }
    function global:Get-Tpm { param() }
    function global:Set-Acl { param($LiteralPath, $AclObject) }
    function global:Get-Acl { param($LiteralPath) }
    function global:Get-CimInstance { param($ClassName, $Property) }
    function global:New-ScheduledTaskAction { param($Execute, $Argument) }
    function global:New-ScheduledTaskTrigger { param([switch]$AtStartup, [switch]$Daily, $At, $RandomDelay) }
    function global:New-ScheduledTaskPrincipal { param($UserId, $LogonType, $RunLevel) }
    function global:New-ScheduledTaskSettingsSet { param([switch]$StartWhenAvailable, [switch]$AllowStartIfOnBatteries, [switch]$DontStopIfGoingOnBatteries, $ExecutionTimeLimit, $MultipleInstances) }
    function global:Register-ScheduledTask { param($TaskName, $TaskPath, $Action, $Trigger, $Principal, $Settings, $Description, [switch]$Force) }
    function global:Get-ScheduledTask { param($TaskName, $TaskPath) }
    function global:Unregister-ScheduledTask { param($TaskName, $TaskPath, [switch]$Confirm) }

    $script:computerName = $env:COMPUTERNAME
    $env:COMPUTERNAME = 'LAPTOP-0042'
    $env:CMG_TOKEN_AUTH_STATE_DIR = Join-Path $TestDrive 'state'
}

AfterAll {
    $env:COMPUTERNAME = $script:computerName
    Remove-Item Env:\CMG_TOKEN_AUTH_STATE_DIR -ErrorAction SilentlyContinue
    foreach ($name in @('New-SelfSignedCertificate', 'Get-Tpm', 'Set-Acl', 'Get-Acl', 'Get-CimInstance', 'New-ScheduledTaskAction', 'New-ScheduledTaskTrigger', 'New-ScheduledTaskPrincipal', 'New-ScheduledTaskSettingsSet', 'Register-ScheduledTask', 'Get-ScheduledTask', 'Unregister-ScheduledTask')) {
        Remove-Item -Path ('Function:\global:' + $name) -ErrorAction SilentlyContinue
    }
}

Describe 'CmgTokenAuth on Windows (mocked)' {
    # Mocks made once per block (a test overrides one where it needs to): each Mock costs Pester
    # a proxy function, and Should -Invoke counts only the calls inside each test anyway.
    BeforeAll {
        Mock -ModuleName CmgTokenAuth Test-CmgWindows { $true }
        Mock -ModuleName CmgTokenAuth Test-CmgElevated { $true }
        Mock -ModuleName CmgTokenAuth Get-CimInstance { [pscustomobject]@{ Caption = 'Microsoft Windows 11 Enterprise'; Version = '10.0.22631' } }
    }

    BeforeEach {
        $env:CMG_TOKEN_AUTH_STATE_DIR = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
    }

    Context 'the device key in the certificate store' {
        It 'goes into the TPM (Microsoft Platform Crypto Provider), non-exportable, in Cert:\LocalMachine\My when elevated' {
            Mock -ModuleName CmgTokenAuth Get-Tpm { [pscustomobject]@{ TpmPresent = $true; TpmReady = $true } }
            Mock -ModuleName CmgTokenAuth New-SelfSignedCertificate { [pscustomobject]@{ Thumbprint = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' } }
            $saved = InModuleScope CmgTokenAuth { New-CmgStoreIdentity -KeyAlgorithm RSA -StoreLocation LocalMachine }
            Should -Invoke -ModuleName CmgTokenAuth New-SelfSignedCertificate -Times 1 -Exactly -ParameterFilter {
                $Provider -eq 'Microsoft Platform Crypto Provider' -and $CertStoreLocation -eq 'Cert:\LocalMachine\My' -and
                $KeyExportPolicy -eq 'NonExportable' -and $KeyAlgorithm -eq 'RSA' -and $KeyLength -eq 2048 -and
                $Subject -eq 'CN=LAPTOP-0042' -and $KeyUsage -eq 'DigitalSignature' -and $Type -eq 'Custom' -and
                $HashAlgorithm -eq 'SHA256' -and ($TextExtension -join '|') -eq '2.5.29.37={text}1.3.6.1.5.5.7.3.2' -and
                $FriendlyName -eq 'CmgTokenAuth device key' -and
                [math]::Abs(($NotBefore - (Get-Date).AddMinutes(-5)).TotalSeconds) -lt 60 -and
                [math]::Abs(($NotAfter - (Get-Date).AddDays(3650)).TotalSeconds) -lt 60
            }
            $saved.keyStorage | Should -Be 'CertStore'
            $saved.storeLocation | Should -Be 'LocalMachine'
            $saved.provider | Should -Be 'Microsoft Platform Crypto Provider'
            $saved.thumbprint | Should -Be 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'
        }

        It 'falls back to the software KSP, with a warning, when the TPM refuses the key' {
            Mock -ModuleName CmgTokenAuth Get-Tpm { [pscustomobject]@{ TpmPresent = $true; TpmReady = $true } }
            Mock -ModuleName CmgTokenAuth New-SelfSignedCertificate { throw 'NTE_NOT_SUPPORTED' } -ParameterFilter { $Provider -eq 'Microsoft Platform Crypto Provider' }
            Mock -ModuleName CmgTokenAuth New-SelfSignedCertificate { [pscustomobject]@{ Thumbprint = 'FFFF' } } -ParameterFilter { $Provider -eq 'Microsoft Software Key Storage Provider' }
            $saved = InModuleScope CmgTokenAuth { New-CmgStoreIdentity -KeyAlgorithm RSA -StoreLocation LocalMachine -WarningVariable warned -WarningAction SilentlyContinue; $warned | Should -Match 'TPM refused' }
            $saved.provider | Should -Be 'Microsoft Software Key Storage Provider'
            Should -Invoke -ModuleName CmgTokenAuth New-SelfSignedCertificate -Times 2 -Exactly
        }

        It 'uses only the software KSP when there is no ready TPM (Get-Tpm fails unelevated or without a TPM)' {
            Mock -ModuleName CmgTokenAuth Get-Tpm { throw 'Access denied' }
            Mock -ModuleName CmgTokenAuth New-SelfSignedCertificate { [pscustomobject]@{ Thumbprint = 'EEEE' } }
            $saved = InModuleScope CmgTokenAuth { New-CmgStoreIdentity -KeyAlgorithm RSA -StoreLocation CurrentUser }
            Should -Invoke -ModuleName CmgTokenAuth New-SelfSignedCertificate -Times 1 -Exactly -ParameterFilter {
                $Provider -eq 'Microsoft Software Key Storage Provider' -and $CertStoreLocation -eq 'Cert:\CurrentUser\My' -and $KeyExportPolicy -eq 'NonExportable'
            }
            $saved.storeLocation | Should -Be 'CurrentUser'
        }

        It 'makes an EC P-256 key with -KeyAlgorithm ECDsaP256 (no key length)' {
            Mock -ModuleName CmgTokenAuth Get-Tpm { [pscustomobject]@{ TpmPresent = $false; TpmReady = $false } }
            Mock -ModuleName CmgTokenAuth New-SelfSignedCertificate { [pscustomobject]@{ Thumbprint = 'DDDD' } }
            InModuleScope CmgTokenAuth { New-CmgStoreIdentity -KeyAlgorithm ECDsaP256 -StoreLocation LocalMachine } | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth New-SelfSignedCertificate -Times 1 -Exactly -ParameterFilter {
                $KeyAlgorithm -eq 'ECDSA_nistP256' -and $null -eq $KeyLength -and $Provider -eq 'Microsoft Software Key Storage Provider'
            }
        }

        It 'New-CmgDeviceIdentity picks the user''s store when not elevated' {
            Mock -ModuleName CmgTokenAuth Test-CmgElevated { $false }
            Mock -ModuleName CmgTokenAuth New-CmgStoreIdentity { @{ keyStorage = 'CertStore'; storeLocation = $StoreLocation; thumbprint = 'CCCC'; provider = 'x'; keyAlgorithm = $KeyAlgorithm } }
            Mock -ModuleName CmgTokenAuth Get-CmgIdentity { $null }
            New-CmgDeviceIdentity | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth New-CmgStoreIdentity -Times 1 -Exactly -ParameterFilter { $StoreLocation -eq 'CurrentUser' -and $KeyAlgorithm -eq 'RSA' }
        }

        It 'signs with the store''s key through RSACertificateExtensions, found by thumbprint, never exported' {
            # A real certificate with its key, as the certificate provider would hand it out.
            $rsa = [System.Security.Cryptography.RSA]::Create(2048)
            $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=LAPTOP-0042', $rsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
            $script:storeCertificate = $request.CreateSelfSigned([System.DateTimeOffset]::UtcNow.AddMinutes(-5), [System.DateTimeOffset]::UtcNow.AddDays(1))
            InModuleScope CmgTokenAuth -Parameters @{ Thumbprint = $script:storeCertificate.Thumbprint } {
                Save-CmgState -Name 'identity' -State @{ keyStorage = 'CertStore'; storeLocation = 'LocalMachine'; thumbprint = $Thumbprint; provider = 'Microsoft Platform Crypto Provider'; keyAlgorithm = 'RSA' }
            }
            Mock -ModuleName CmgTokenAuth Get-Item { $script:storeCertificate } -ParameterFilter { $LiteralPath -eq ('Cert:\LocalMachine\My\' + $script:storeCertificate.Thumbprint) }
            $proof = InModuleScope CmgTokenAuth { New-CmgProof -Identity (Get-CmgIdentity) -Method POST -Url 'https://cmg.contoso.com/api/register/internal' }
            Test-TestJwsSignature $proof | Should -BeTrue
            (Split-TestJws $proof).Header.x5c[0] | Should -Be ([System.Convert]::ToBase64String($script:storeCertificate.RawData))
            Should -Invoke -ModuleName CmgTokenAuth Get-Item -Times 1 -Exactly -ParameterFilter { $LiteralPath -eq ('Cert:\LocalMachine\My\' + $script:storeCertificate.Thumbprint) }
            @(Get-ChildItem $env:CMG_TOKEN_AUTH_STATE_DIR -Filter '*.pem').Count | Should -Be 0
        }

        It 'says identity_missing when the certificate has left the store' {
            InModuleScope CmgTokenAuth { Save-CmgState -Name 'identity' -State @{ keyStorage = 'CertStore'; storeLocation = 'LocalMachine'; thumbprint = 'ABCD'; provider = 'x'; keyAlgorithm = 'RSA' } }
            Mock -ModuleName CmgTokenAuth Get-Item { $null }
            { Get-CmgDeviceStatus } | Should -Throw -ErrorId 'CmgTokenAuth.identity_missing,Get-CmgDeviceStatus'
        }

        It 'Reset-CmgDevice deletes the certificate with its private key (-DeleteKey)' {
            InModuleScope CmgTokenAuth { Save-CmgState -Name 'identity' -State @{ keyStorage = 'CertStore'; storeLocation = 'LocalMachine'; thumbprint = 'ABCD'; provider = 'x'; keyAlgorithm = 'RSA' } }
            Mock -ModuleName CmgTokenAuth Test-Path { $true } -ParameterFilter { $LiteralPath -eq 'Cert:\LocalMachine\My\ABCD' }
            Mock -ModuleName CmgTokenAuth Remove-CmgStoreCertificate { }
            Reset-CmgDevice -Confirm:$false
            Should -Invoke -ModuleName CmgTokenAuth Remove-CmgStoreCertificate -Times 1 -Exactly -ParameterFilter { $Path -eq 'Cert:\LocalMachine\My\ABCD' }
            # -DeleteKey belongs to the Certificate provider, which exists only on Windows: what is
            # checked here is that the command asks for it.
            (Get-Command -Module CmgTokenAuth -Name Remove-CmgStoreCertificate -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
            InModuleScope CmgTokenAuth { ${function:Remove-CmgStoreCertificate}.ToString() } | Should -Match 'Remove-Item -LiteralPath \$Path -DeleteKey -Force'
            Test-Path (Join-Path $env:CMG_TOKEN_AUTH_STATE_DIR 'identity.json') | Should -BeFalse
        }
    }

    Context 'the state folder' {
        It 'is %ProgramData%\CmgTokenAuth when elevated, %LOCALAPPDATA%\CmgTokenAuth otherwise' {
            Remove-Item Env:\CMG_TOKEN_AUTH_STATE_DIR
            $saved = @{ ProgramData = $env:ProgramData; LOCALAPPDATA = $env:LOCALAPPDATA }
            try {
                $env:ProgramData = Join-Path $TestDrive 'ProgramData'
                $env:LOCALAPPDATA = Join-Path $TestDrive 'Users/kim/AppData/Local'
                InModuleScope CmgTokenAuth { Get-CmgStateDirectory } | Should -Be (Join-Path $env:ProgramData 'CmgTokenAuth')
                Mock -ModuleName CmgTokenAuth Test-CmgElevated { $false }
                InModuleScope CmgTokenAuth { Get-CmgStateDirectory } | Should -Be (Join-Path $env:LOCALAPPDATA 'CmgTokenAuth')
            } finally {
                $env:ProgramData = $saved.ProgramData
                $env:LOCALAPPDATA = $saved.LOCALAPPDATA
            }
        }

        It 'under ProgramData gets the ACL of SYSTEM and Administrators only, inheritance cut' {
            $saved = $env:ProgramData
            try {
                $env:ProgramData = Join-Path $TestDrive 'ProgramData'
                $path = Join-Path $env:ProgramData 'CmgTokenAuth'
                Mock -ModuleName CmgTokenAuth New-CmgDirectorySecurity { [pscustomobject]@{ Sddl = $Sddl } }
                Mock -ModuleName CmgTokenAuth Set-Acl { }
                InModuleScope CmgTokenAuth -Parameters @{ Path = $path } { Initialize-CmgStateDirectory -Path $Path } | Should -Be $path
                Should -Invoke -ModuleName CmgTokenAuth Set-Acl -Times 1 -Exactly -ParameterFilter {
                    $LiteralPath -eq $path -and $AclObject.Sddl -eq 'O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)'
                }
                Test-Path $path -PathType Container | Should -BeTrue
                # Once protected, later reads leave it alone; inheritance let back in is cut again.
                Mock -ModuleName CmgTokenAuth Get-Acl { [pscustomobject]@{ AreAccessRulesProtected = $true } }
                InModuleScope CmgTokenAuth -Parameters @{ Path = $path } { Initialize-CmgStateDirectory -Path $Path } | Out-Null
                Should -Invoke -ModuleName CmgTokenAuth Set-Acl -Times 1 -Exactly
                Mock -ModuleName CmgTokenAuth Get-Acl { [pscustomobject]@{ AreAccessRulesProtected = $false } }
                InModuleScope CmgTokenAuth -Parameters @{ Path = $path } { Initialize-CmgStateDirectory -Path $Path } | Out-Null
                Should -Invoke -ModuleName CmgTokenAuth Set-Acl -Times 2 -Exactly -ParameterFilter { $LiteralPath -eq $path }
                Should -Invoke -ModuleName CmgTokenAuth Get-Acl -Times 2 -Exactly -ParameterFilter { $LiteralPath -eq $path }
            } finally {
                $env:ProgramData = $saved
            }
        }

        It 'elsewhere (the user''s own LOCALAPPDATA) gets no ACL change' {
            Mock -ModuleName CmgTokenAuth Set-Acl { }
            InModuleScope CmgTokenAuth { Initialize-CmgStateDirectory -Path $env:CMG_TOKEN_AUTH_STATE_DIR } | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth Set-Acl -Times 0 -Exactly
        }
    }

    Context 'the device description' {
        It 'is COMPUTERNAME, the caption and build of Win32_OperatingSystem, and the module version' {
            $description = InModuleScope CmgTokenAuth { Get-CmgDeviceDescription }
            $description.name | Should -Be 'LAPTOP-0042'
            $description.os | Should -Be 'Microsoft Windows 11 Enterprise 10.0.22631'
            $description.clientVersion | Should -Be '0.1.0'
            Should -Invoke -ModuleName CmgTokenAuth Get-CimInstance -Times 1 -Exactly -ParameterFilter { $ClassName -eq 'Win32_OperatingSystem' }
        }

        It 'keeps to the contract''s bounds whatever the machine says' {
            $env:COMPUTERNAME = ('N' * 70) + "`t"
            try {
                Mock -ModuleName CmgTokenAuth Get-CimInstance { [pscustomobject]@{ Caption = ('C' * 200); Version = "1`n2" } }
                $description = InModuleScope CmgTokenAuth { Get-CmgDeviceDescription }
                $description.name.Length | Should -Be 64
                $description.os.Length | Should -Be 128
                $description.os | Should -Not -Match '[\x00-\x1f]'
            } finally {
                $env:COMPUTERNAME = 'LAPTOP-0042'
            }
        }
    }

    Context 'the renewal task' {
        BeforeAll {
            Mock -ModuleName CmgTokenAuth New-ScheduledTaskAction { [pscustomobject]@{ Kind = 'action'; Execute = $Execute; Argument = $Argument } }
            Mock -ModuleName CmgTokenAuth New-ScheduledTaskTrigger { [pscustomobject]@{ Kind = 'startup' } } -ParameterFilter { $AtStartup }
            Mock -ModuleName CmgTokenAuth New-ScheduledTaskTrigger { [pscustomobject]@{ Kind = 'daily'; At = $At; RandomDelay = $RandomDelay } } -ParameterFilter { $Daily }
            Mock -ModuleName CmgTokenAuth New-ScheduledTaskPrincipal { [pscustomobject]@{ Kind = 'principal'; UserId = $UserId; LogonType = $LogonType; RunLevel = $RunLevel } }
            Mock -ModuleName CmgTokenAuth New-ScheduledTaskSettingsSet { [pscustomobject]@{ Kind = 'settings'; StartWhenAvailable = [bool]$StartWhenAvailable; ExecutionTimeLimit = $ExecutionTimeLimit; MultipleInstances = $MultipleInstances } }
            Mock -ModuleName CmgTokenAuth Register-ScheduledTask { [pscustomobject]@{ TaskName = $TaskName } }
            $env:SystemRoot = 'C:\Windows'
        }

        It 'runs Update-CmgDeviceToken as SYSTEM at start-up and daily, importing this module by its path' {
            Install-CmgRenewalTask | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth New-ScheduledTaskAction -Times 1 -Exactly -ParameterFilter {
                $Execute -eq 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe' -and
                $Argument -eq ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "Import-Module ''{0}'' -ErrorAction Stop; Update-CmgDeviceToken"' -f $script:manifest)
            }
            Should -Invoke -ModuleName CmgTokenAuth New-ScheduledTaskPrincipal -Times 1 -Exactly -ParameterFilter { $UserId -eq 'S-1-5-18' -and $LogonType -eq 'ServiceAccount' -and $RunLevel -eq 'Highest' }
            Should -Invoke -ModuleName CmgTokenAuth New-ScheduledTaskTrigger -Times 1 -Exactly -ParameterFilter { $AtStartup }
            Should -Invoke -ModuleName CmgTokenAuth New-ScheduledTaskTrigger -Times 1 -Exactly -ParameterFilter { $Daily -and $At -eq '03:00' -and $RandomDelay -eq [timespan]::FromMinutes(120) }
            Should -Invoke -ModuleName CmgTokenAuth New-ScheduledTaskSettingsSet -Times 1 -Exactly -ParameterFilter { $StartWhenAvailable -and $MultipleInstances -eq 'IgnoreNew' -and $ExecutionTimeLimit -eq [timespan]::FromHours(1) }
            Should -Invoke -ModuleName CmgTokenAuth Register-ScheduledTask -Times 1 -Exactly -ParameterFilter {
                $TaskName -eq 'Token renewal' -and $TaskPath -eq '\CmgTokenAuth\' -and $Force -and
                $Principal.UserId -eq 'S-1-5-18' -and (@($Trigger).Kind -join ',') -eq 'startup,daily' -and $Action.Kind -eq 'action' -and $Settings.Kind -eq 'settings' -and
                $Description -match 'Renews the cmg-token-auth device token'
            }
        }

        It 'takes another time and spread' {
            Install-CmgRenewalTask -DailyAt '12:30' -RandomDelayMinutes 240 -TaskName 'Renew' | Out-Null
            Should -Invoke -ModuleName CmgTokenAuth New-ScheduledTaskTrigger -Times 1 -Exactly -ParameterFilter { $Daily -and $At -eq '12:30' -and $RandomDelay -eq [timespan]::FromMinutes(240) }
            Should -Invoke -ModuleName CmgTokenAuth Register-ScheduledTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq 'Renew' }
        }

        It '-WhatIf prints what it would register and registers nothing' {
            $transcript = Join-Path $TestDrive 'whatif.txt'
            Start-Transcript -Path $transcript | Out-Null
            try { Install-CmgRenewalTask -WhatIf } finally { Stop-Transcript | Out-Null }
            Should -Invoke -ModuleName CmgTokenAuth Register-ScheduledTask -Times 0 -Exactly
            # A transcript wraps host lines at the console's width: join them again.
            $printed = (Get-Content -Raw $transcript) -replace '\r?\n', ''
            $printed | Should -Match ([regex]::Escape('What if: Performing the operation "Register a scheduled task running as SYSTEM at start-up and daily at 03:00 (random delay up to 120 min): C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "Import-Module'))
            $printed | Should -Match ([regex]::Escape('Update-CmgDeviceToken"" on target "\CmgTokenAuth\Token renewal".'))
        }

        It 'refuses a time that is not HH:mm' {
            { Install-CmgRenewalTask -DailyAt '25:00' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Install-CmgRenewalTask'
        }

        It 'Uninstall-CmgRenewalTask unregisters the task, or does nothing when it is not there; -WhatIf removes nothing' {
            Mock -ModuleName CmgTokenAuth Get-ScheduledTask { [pscustomobject]@{ TaskName = 'Token renewal' } }
            Mock -ModuleName CmgTokenAuth Unregister-ScheduledTask { }
            Uninstall-CmgRenewalTask -WhatIf
            Should -Invoke -ModuleName CmgTokenAuth Unregister-ScheduledTask -Times 0 -Exactly
            Uninstall-CmgRenewalTask
            Should -Invoke -ModuleName CmgTokenAuth Unregister-ScheduledTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq 'Token renewal' -and $TaskPath -eq '\CmgTokenAuth\' }
            Mock -ModuleName CmgTokenAuth Get-ScheduledTask { $null }
            Uninstall-CmgRenewalTask
            Should -Invoke -ModuleName CmgTokenAuth Unregister-ScheduledTask -Times 1 -Exactly
        }

        It 'is refused off Windows with not_windows' {
            Mock -ModuleName CmgTokenAuth Test-CmgWindows { $false }
            { Install-CmgRenewalTask -WhatIf } | Should -Throw -ErrorId 'CmgTokenAuth.not_windows,Install-CmgRenewalTask'
            { Uninstall-CmgRenewalTask } | Should -Throw -ErrorId 'CmgTokenAuth.not_windows,Uninstall-CmgRenewalTask'
        }
    }
}
