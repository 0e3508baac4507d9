// The daemon's composition root. The ECR and daemon issues fill this in.
return 0;
