/** The deployment file module, kept here for importers of `@sluice/hub/deployment`: it lives in `@sluice/channel-core/deployment`. */
export { parseDeployment, readDeployment, readJsonFile, writeDeployment, type Deployment } from '@sluice/channel-core/deployment';
