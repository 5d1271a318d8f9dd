# Requirement: the module's shape - an explicit export list that matches Public/, one function per
# file named as the file, approved verbs, help with an example on every public command,
# -WhatIf/-Confirm wherever the machine changes, and errors through ThrowTerminatingError.
BeforeDiscovery {
    $moduleRoot = Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth'
    $publicNames = @(Get-ChildItem -Path (Join-Path $moduleRoot 'Public') -Filter '*.ps1' | ForEach-Object { $_.BaseName } | Sort-Object)
    $public = @($publicNames | ForEach-Object { @{ Name = $_ } })
    $changesTheMachine = @('New-CmgDeviceIdentity', 'Register-CmgDevice', 'Update-CmgDeviceToken', 'Reset-CmgDevice', 'Install-CmgRenewalTask', 'Uninstall-CmgRenewalTask') | ForEach-Object { @{ Name = $_ } }
}

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

Describe '<Name>' -ForEach $public {
    BeforeAll {
        $command = Get-Command -Name $Name -Module CmgTokenAuth
        # The comment-based help as Get-Help reads it, from the function's AST (Get-Help itself
        # is slow enough to matter in npm test).
        $file = Join-Path $moduleRoot ('Public/' + $Name + '.ps1')
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$null, [ref]$null)
        $help = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false).GetHelpContent()
    }

    It 'uses an approved verb' {
        (Get-Verb).Verb | Should -Contain $command.Verb
    }

    It 'has a synopsis, a description and at least one example, and every parameter described' {
        $help.Synopsis.Trim() | Should -Not -BeNullOrEmpty
        $help.Description.Trim() | Should -Not -BeNullOrEmpty
        $help.Examples.Count | Should -BeGreaterThan 0
        $help.Examples[0] | Should -Match 'Cmg'
        $own = @($command.Parameters.Keys | Where-Object { [System.Management.Automation.PSCmdlet]::CommonParameters -notcontains $_ -and [System.Management.Automation.PSCmdlet]::OptionalCommonParameters -notcontains $_ })
        $undocumented = @($own | Where-Object { -not $help.Parameters.ContainsKey($_.ToUpperInvariant()) })
        $undocumented | Should -BeNullOrEmpty
    }

    It 'throws its errors through $PSCmdlet.ThrowTerminatingError' {
        $command.Definition | Should -Match '\$PSCmdlet\.ThrowTerminatingError\(\(ConvertTo-CmgErrorRecord'
    }
}

Describe '<Name> changes the machine, so it takes -WhatIf and -Confirm' -ForEach $changesTheMachine {
    It 'supports ShouldProcess' {
        $parameters = (Get-Command -Name $Name -Module CmgTokenAuth).Parameters
        $parameters.ContainsKey('WhatIf') | Should -BeTrue
        $parameters.ContainsKey('Confirm') | Should -BeTrue
    }
}
