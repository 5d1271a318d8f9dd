# Requirement: the module's shape - an explicit export list that matches Public/, one function per
# file named as the file, approved verbs, help with an example on every public command,
# -WhatIf/-Confirm wherever the machine changes, and errors through ThrowTerminatingError.
BeforeAll {
    $moduleRoot = Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth'
    $manifestPath = Join-Path $moduleRoot 'CmgTokenAuth.psd1'
    $publicNames = @(Get-ChildItem -Path (Join-Path $moduleRoot 'Public') -Filter '*.ps1' | ForEach-Object { $_.BaseName } | Sort-Object)
    Import-Module $manifestPath -Force
}

Describe 'The CmgTokenAuth manifest' {
    It 'is valid, for Windows PowerShell 5.1 (Desktop) and PowerShell 7 (Core)' {
        $manifest = Test-ModuleManifest -Path $manifestPath
        $manifest.PowerShellVersion | Should -Be ([version]'5.1')
        $manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
    }

    It 'lists the exported functions by name, exactly the files in Public/' {
        $data = Import-PowerShellDataFile -Path $manifestPath
        $data.FunctionsToExport | Should -Not -Contain '*'
        ($data.FunctionsToExport | Sort-Object) | Should -Be $publicNames
        ((Get-Command -Module CmgTokenAuth).Name | Sort-Object) | Should -Be $publicNames
        $data.CmdletsToExport | Should -BeNullOrEmpty
        $data.VariablesToExport | Should -BeNullOrEmpty
        $data.AliasesToExport | Should -BeNullOrEmpty
    }

    It 'has the eight commands of the device client' {
        $publicNames | Should -Be @('Get-CmgDeviceStatus', 'Install-CmgRenewalTask', 'Invoke-CmgAuthenticatedRequest', 'New-CmgDeviceIdentity', 'Register-CmgDevice', 'Reset-CmgDevice', 'Uninstall-CmgRenewalTask', 'Update-CmgDeviceToken')
    }

    It 'keeps one function per file, named as the file, in Public/ and Private/' {
        $wrong = foreach ($file in (Get-ChildItem -Path (Join-Path $moduleRoot 'Public'), (Join-Path $moduleRoot 'Private') -Filter '*.ps1')) {
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$null, [ref]$null)
            $functions = @($ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false))
            if ($functions.Count -ne 1 -or $functions[0].Name -ne $file.BaseName) { $file.Name }
        }
        @($wrong) | Should -BeNullOrEmpty
    }
}

Describe 'Every public command' {
    # One test per property over all eight commands: a failure names the commands (Pester's
    # per-test cost would otherwise dominate this file).
    BeforeAll {
        $commands = foreach ($name in $publicNames) {
            $file = Join-Path $moduleRoot ('Public/' + $name + '.ps1')
            $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$null, [ref]$null)
            [pscustomobject]@{
                Name    = $name
                Command = Get-Command -Name $name -Module CmgTokenAuth
                # The comment-based help as Get-Help reads it, from the function's AST (Get-Help
                # itself is slow enough to matter in npm test).
                Help    = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false).GetHelpContent()
            }
        }
        $changesTheMachine = @('New-CmgDeviceIdentity', 'Register-CmgDevice', 'Update-CmgDeviceToken', 'Reset-CmgDevice', 'Install-CmgRenewalTask', 'Uninstall-CmgRenewalTask')
        $verbs = (Get-Verb).Verb
    }

    It 'uses an approved verb' {
        @($commands | Where-Object { $verbs -notcontains $_.Command.Verb } | ForEach-Object Name) | Should -BeNullOrEmpty
    }

    It 'has a synopsis, a description, an example and every parameter described' {
        $gaps = foreach ($entry in $commands) {
            $help = $entry.Help
            if ($null -eq $help -or -not $help.Synopsis.Trim()) { '{0}: no synopsis' -f $entry.Name; continue }
            if (-not $help.Description.Trim()) { '{0}: no description' -f $entry.Name }
            if ($help.Examples.Count -eq 0 -or $help.Examples[0] -notmatch 'Cmg') { '{0}: no example' -f $entry.Name }
            foreach ($parameter in $entry.Command.Parameters.Keys) {
                $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
                if ($common -notcontains $parameter -and -not $help.Parameters.ContainsKey($parameter.ToUpperInvariant())) { '{0}: -{1} undescribed' -f $entry.Name, $parameter }
            }
        }
        @($gaps) | Should -BeNullOrEmpty
    }

    It 'throws its errors through $PSCmdlet.ThrowTerminatingError' {
        @($commands | Where-Object { $_.Command.Definition -notmatch '\$PSCmdlet\.ThrowTerminatingError\(\(ConvertTo-CmgErrorRecord' } | ForEach-Object Name) | Should -BeNullOrEmpty
    }

    It 'takes -WhatIf and -Confirm where it changes the machine' {
        $missing = foreach ($name in $changesTheMachine) {
            $parameters = ($commands | Where-Object { $_.Name -eq $name }).Command.Parameters
            if (-not ($parameters.ContainsKey('WhatIf') -and $parameters.ContainsKey('Confirm'))) { $name }
        }
        @($missing) | Should -BeNullOrEmpty
        $changesTheMachine.Count | Should -Be 6
    }
}
